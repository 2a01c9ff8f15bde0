"""
### covertype_train

Retrains when new rows land (scheduled on the asset `covertype_raw`, which `covertype_ingest` updates) or
when triggered by hand with the params `candidates` (comma-separated:
`hgb,lightgbm,random_forest,extra_trees,logreg`),
`time_budget` (seconds of hyper-parameter search per training, shared equally by the candidates) and
`force`.

1. **check_new_data**: trains for a reason, else skips the run. The signals, each needing new rows to train
   on (the reason names the first that fires, in this order):
   * *accuracy drop*: the champion's accuracy on the latest evaluated batch (`batch_quality`, written by
     `covertype_ingest`'s `evaluate_batch`) is more than `COVERTYPE_ACCURACY_DROP` (0.03) below the
     version's holdout accuracy;
   * *drift*: that batch drifted: a feature's difference from the training data is beyond chance at the
     two sample sizes and its PSI above `COVERTYPE_DRIFT_THRESHOLD` (0.2); never below 100 rows;
   * *new rows*: at least `COVERTYPE_MIN_NEW_ROWS` rows arrived since the last training (default 1: any
     new row trains, as before).

   The param `force` and the first training skip the signals; an empty store never trains. The decision
   (signal, reason with its numbers, candidates) is the task's log line and its XCom `decision`, and the tags
   `covertype.training_signal` and `covertype.training_reason` of the MLflow parent run and of the version
   the run registers;
2. **snapshot**: deduplicated Parquet snapshot of the store (MinIO or a local folder), MLflow parent run;
3. **search_candidate**: one mapped task per candidate: a hyper-parameter search on a stratified sample of
   at most `COVERTYPE_SEARCH_ROWS` (20,000) training rows, for the candidate's equal share of
   `COVERTYPE_TRAIN_TIME_BUDGET` (100 s per training); logged as a nested MLflow run. A candidate that
   cannot train on the data fails alone (its nested run `FAILED`, with the reason). It runs at CPU
   niceness `COVERTYPE_TRAINING_NICENESS` (10), so the ingest runs and the scheduler go first;
4. **refit**: the best candidate on validation is fitted on every training row (on
   `COVERTYPE_REFIT_THREADS` threads, default all CPUs), evaluated on the holdout, exported to ONNX and
   checked, and logged in its search's run; the runner-up too when the winner cannot be served. A training
   costs its search budget plus one fit on all rows, at any size;
5. **register**: the refit candidate (the best on validation that could be served) becomes a new version
   of the registered model; it fails when no candidate trained;
6. **promote**: alias `champion` only if it beats the champion re-evaluated on the same holdout by more
   than `COVERTYPE_PROMOTION_MARGIN` (a tie keeps the champion), otherwise alias `challenger`.

Every task calls one function of `covertype.training.pipeline` (the steps `covertype train` chains) with
the typed values of `covertype.training.steps`; XComs carry them as JSON (URIs, digests, run ids, scores).
A task that fails for good closes the MLflow parent run `FAILED` with the error, as `covertype train` does,
and pushes the time of the failure to the Pushgateway (`COVERTYPE_PUSHGATEWAY_URL`; **promote** pushes the
time of each success), which the alert `CovertypeTrainingFailed` reads.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import Param, dag, get_current_context, task

from covertype.orchestration import covertype_raw
from covertype.registry.task_logging import route_mlflow_logging_to_task_log
from covertype.settings import get_settings

if TYPE_CHECKING:
    from covertype.registry.core import Registry

route_mlflow_logging_to_task_log()  # MLflow's INFO lines at info in the task log, not as errors

#: Key of check_new_data's XCom holding the whole decision (signal, reason, row counts, candidates).
DECISION_XCOM = "decision"


def _registry() -> Registry:
    """The task's registry (MLflow is imported in the task, never when the scheduler parses this file)."""
    from covertype.registry.core import Registry

    return Registry.from_settings(get_settings())


def _fail_parent_run(context: Any) -> None:
    """Failure callback of every task (Airflow calls it when a task fails for good, not before a retry):
    push the failure's time to the Pushgateway; once the snapshot opened the MLflow parent run, close it
    FAILED through the CLI's failure path."""
    from airflow.sdk.exceptions import AirflowFailException

    from covertype.pushgateway import push_training_outcome
    from covertype.training.pipeline import fail_training
    from covertype.training.steps import PreparedTraining

    push_training_outcome(get_settings(), succeeded=False)
    ti = context["ti"]
    prepared = ti.xcom_pull(task_ids="snapshot")
    if prepared:
        error = context.get("exception")
        if isinstance(error, AirflowFailException) and error.__cause__:  # raised only to skip the retries
            error = error.__cause__
        fail_training(_registry(), PreparedTraining.from_dict(prepared), step=ti.task_id, error=error)


@dag(
    dag_id="covertype_train",
    schedule=[covertype_raw],
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    params={
        "candidates": Param(
            None, type=["null", "string"], description="comma-separated candidates; default: all"
        ),
        "time_budget": Param(
            None,
            type=["null", "number"],
            description="seconds of search per training, shared by the candidates",
        ),
        "force": Param(False, type="boolean", description="train whatever the signals say"),
    },
    default_args={
        "retries": 2,
        "retry_delay": timedelta(seconds=30),
        "retry_exponential_backoff": 2.0,
        "execution_timeout": timedelta(hours=3),
        "on_failure_callback": _fail_parent_run,
    },
    tags=["covertype", "training"],
    doc_md=__doc__,
)
def covertype_train() -> None:
    @task
    def check_new_data() -> list[str]:
        """Skip unless a signal calls for training; the candidates to train (what the mapped task expands
        over). The whole decision, with its signal and reason, is the XCom ``decision``."""
        from airflow.sdk.exceptions import AirflowSkipException

        from covertype.training.pipeline import check_new_data

        context = get_current_context()
        params = context["params"]
        decision = check_new_data(
            get_settings(), _registry(), candidates=params["candidates"], force=params["force"]
        )
        if not decision.train:
            raise AirflowSkipException(decision.reason)
        print(
            f"training {', '.join(decision.candidates)} for {decision.signal}: {decision.reason} "
            f"({decision.rows} rows stored)"
        )
        context["ti"].xcom_push(DECISION_XCOM, decision.to_dict())
        return list(decision.candidates)

    @task
    def snapshot() -> dict[str, Any]:
        """Snapshot the store and open the MLflow parent run, tagged with the reason to train."""
        from covertype.training.pipeline import prepare_training
        from covertype.training.steps import TrainingDecision
        from covertype.training.tracking import RunContext

        context = get_current_context()
        run = RunContext(context["dag"].dag_id, context["run_id"])
        decision = context["ti"].xcom_pull(task_ids="check_new_data", key=DECISION_XCOM)
        return prepare_training(
            get_settings(),
            _registry(),
            context=run,
            decision=TrainingDecision.from_dict(decision),
            time_budget=context["params"]["time_budget"],
        ).to_dict()

    @task
    def search_candidate(name: str, prepared: dict[str, Any]) -> dict[str, Any]:
        """Search one candidate's parameters on a sample of the rows (mapped: one task per candidate)."""
        from covertype.training.pipeline import search_candidate, yield_cpu_to_ingestion
        from covertype.training.steps import PreparedTraining

        print(f"searching at CPU niceness {yield_cpu_to_ingestion(get_settings())}")
        budget = get_current_context()["params"]["time_budget"]
        return search_candidate(
            get_settings(),
            _registry(),
            name=name,
            prepared=PreparedTraining.from_dict(prepared),
            time_budget=budget,
        ).to_dict()

    @task
    def refit(prepared: dict[str, Any], results: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Fit the best searched candidate on every row, evaluate, export and log it."""
        from covertype.training.pipeline import refit_best, yield_cpu_to_ingestion
        from covertype.training.steps import CandidateResult, PreparedTraining

        print(f"refitting at CPU niceness {yield_cpu_to_ingestion(get_settings())}")
        refitted = refit_best(
            get_settings(),
            _registry(),
            prepared=PreparedTraining.from_dict(prepared),
            results=[CandidateResult.from_dict(result) for result in results],
        )
        return [result.to_dict() for result in refitted]

    @task
    def register(prepared: dict[str, Any], results: list[dict[str, Any]]) -> dict[str, Any]:
        """Register the best candidate that trained as a new model version; fail at once if none did."""
        from airflow.sdk.exceptions import AirflowFailException

        from covertype.training.pipeline import NoCandidateTrained, register_best_candidate
        from covertype.training.steps import CandidateResult, PreparedTraining

        try:
            registered = register_best_candidate(
                get_settings(),
                _registry(),
                prepared=PreparedTraining.from_dict(prepared),
                results=[CandidateResult.from_dict(result) for result in results],
            )
        except NoCandidateTrained as exc:  # the same snapshot would fail the same way: no retry
            raise AirflowFailException(str(exc)) from exc
        return registered.to_dict()

    @task
    def promote(prepared: dict[str, Any], registered: dict[str, Any]) -> dict[str, Any]:
        """Move the champion alias if the new version wins, else mark it challenger."""
        from covertype.training.pipeline import promote
        from covertype.training.steps import PreparedTraining, Registered

        return promote(
            get_settings(),
            _registry(),
            prepared=PreparedTraining.from_dict(prepared),
            registered=Registered.from_dict(registered),
        ).to_dict()

    candidates = check_new_data()
    prepared = snapshot()
    candidates >> prepared
    searched = search_candidate.partial(prepared=prepared).expand(name=candidates)
    results = refit(prepared, searched)  # type: ignore[arg-type]  # TaskFlow: an XComArg, the value at run time
    promote(prepared, register(prepared, results))  # type: ignore[arg-type]  # TaskFlow: an XComArg, the value at run time


covertype_train()
