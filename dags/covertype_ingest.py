"""
### covertype_ingest

Stores every batch of group `COVERTYPE_GROUP` from the data API (`COVERTYPE_DATA_API_URL`) in the
training-data store (`COVERTYPE_DATABASE_URL`), right after its window opens. Runs back to back
(`@continuous`, one at a time); each run handles one batch window:

1. **wait_for_window** asks `GET /groups` when the group's next window opens and waits for it, deferred to
   the triggerer for long waits (no worker slot held); it does not wait when the open batch is not stored;
2. **ingest_batch** sleeps the last seconds, polls once and stores the batch:
   * every row is validated; bad rows land in `forest_cover_rejected` with the reason,
   * new rows are stored once (by `row_hash`) in one transaction, so a retry never loses or duplicates a row,
   * every poll writes one row of `ingestion_runs`,
   * a batch with new rows pushes its time to the Pushgateway (`COVERTYPE_PUSHGATEWAY_URL`), for the
     alert `CovertypeNoBatchStored`.

3. **evaluate_batch** scores the current champion on the stored batch before any training sees it
   (accuracy, macro-F1, drift per feature) into `batch_quality` and MLflow; re-running it changes nothing.
   With no champion yet it returns at once (one REST call; no MLflow import), so the next run starts.

`ingest_batch` is **skipped** (and so is `evaluate_batch`) when the poll learns that all batches were
delivered, or when it brought no new row; otherwise
`evaluate_batch` updates the asset `covertype_raw` (with the counts) once the batch is scored, which
schedules `covertype_train` (whose retraining signals read those scores).
`covertype ingest` runs the same two steps in one go (`covertype.ingestion.ingest_and_evaluate`).
Network and database errors are retried with exponential back-off; an unreachable data API (restarting)
for half a batch interval inside the task, so that its batch is still stored within its interval.

Once all batches were delivered, the next run's **wait_for_window** stays deferred and asks `GET /groups`
again every 10 batch intervals until the group is restarted (`/restart_data_generation`), then ingestion
goes on: no poll and no skipped run meanwhile. So a run has no time limit; each task has its own.
"""

from __future__ import annotations

from collections.abc import Generator
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import Metadata, dag, get_current_context, task

from covertype.orchestration import RESUME_LEAD, WaitForBatchWindow, covertype_raw
from covertype.registry.task_logging import route_mlflow_logging_to_task_log
from covertype.settings import get_settings

route_mlflow_logging_to_task_log()  # MLflow's INFO lines at info in the task log, not as errors


@dag(
    dag_id="covertype_ingest",
    schedule="@continuous",
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    default_args={
        "retries": 4,
        "retry_delay": timedelta(seconds=15),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(minutes=5),
        "execution_timeout": timedelta(minutes=10),
    },
    tags=["covertype", "ingestion"],
    doc_md=__doc__,
)
def covertype_ingest() -> None:
    @task
    def ingest_batch(plan: dict[str, object]) -> dict[str, object]:
        """At the planned moment, poll once and store the batch; skip when there is nothing new."""
        from airflow.sdk.exceptions import AirflowSkipException

        from covertype.ingestion import PollPlan, ingest_once, wait_for_poll

        waited = wait_for_poll(PollPlan.from_dict(plan), longest=2 * RESUME_LEAD)
        print(f"waited {waited:.1f} s for the poll planned at {plan['poll_at']} ({plan['reason']})")
        result = ingest_once(get_settings(), run_id=get_current_context()["run_id"], wait_for_api=True)
        if result.nothing_new is not None:
            raise AirflowSkipException(result.nothing_new)
        return result.to_dict()

    @task(outlets=[covertype_raw])
    def evaluate_batch(ingested: dict[str, Any]) -> Generator[Metadata, None, dict[str, object]]:
        """Test-then-train: the champion scores the stored batch; one ``batch_quality`` row (idempotent).

        Then the asset event: ``covertype_train`` starts only once the batch's scores are stored, so its
        retraining signals read them (and the champion is scored before any training sees the batch).
        """
        from covertype.ingestion import IngestionResult, evaluate_ingested

        evaluation = evaluate_ingested(get_settings(), IngestionResult.from_dict(ingested))
        print(f"{evaluation.status}: {evaluation.detail}")
        counts = ("group_number", "batch_number", "rows_inserted", "rejected")
        yield Metadata(covertype_raw, {key: ingested[key] for key in counts})
        return evaluation.to_dict()

    evaluate_batch(ingest_batch(WaitForBatchWindow(task_id="wait_for_window").output))  # type: ignore[arg-type]  # TaskFlow: an XComArg, the value at run time


covertype_ingest()
