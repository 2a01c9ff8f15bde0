"""The ``covertype_ingest`` DAG: it parses cleanly, and ``dag.test()`` stores live data API batches on time.

Airflow runs in subprocesses with their own ``AIRFLOW_HOME``, so its configuration and metadata database
never leak into other tests.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from covertype.dataset import load_dataset
from covertype.processes import unused_port
from covertype.settings import Settings
from covertype.store.quality import batch_quality_rows
from covertype.store.tables import ingestion_runs
from support.airflow import airflow_env, run_python
from support.data_api import data_api_server, data_api_settings
from support.inference import registry_settings, train_version
from support.store import count_rows

PARSE = """
import json, os
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
dag = bag.dags["covertype_ingest"]
task = dag.get_task("ingest_batch")
wait = dag.get_task("wait_for_window")
print(json.dumps({
    "errors": {path: str(error) for path, error in bag.import_errors.items()},
    "dag_ids": sorted(bag.dag_ids),
    "schedule": str(dag.schedule),
    "catchup": dag.catchup,
    "max_active_runs": dag.max_active_runs,
    "tasks": sorted(t.task_id for t in dag.tasks),
    "upstream": sorted(task.upstream_task_ids),
    "evaluate_upstream": sorted(dag.get_task("evaluate_batch").upstream_task_ids),
    "wait_retries": wait.retries,
    "retries": task.retries,
    "backoff": task.retry_exponential_backoff,
    "outlets": [o.name for o in task.outlets],
    "evaluate_outlets": [o.name for o in dag.get_task("evaluate_batch").outlets],
    "doc": bool(dag.doc_md),
}))
"""

RUN_ONCE = """
import json, os
from airflow.dag_processing.dagbag import DagBag
from airflow.utils.db import initdb
initdb()
dag = DagBag(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]).dags["covertype_ingest"]
run = dag.test()
states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
print(json.dumps({"state": str(run.state), "tasks": states}))
"""

RUN_TWICE = """
import json, os, httpx
from airflow.dag_processing.dagbag import DagBag
from airflow.models.asset import AssetEvent
from airflow.utils.db import initdb
from airflow.utils.session import create_session
initdb()  # what `airflow db migrate` does for a new metadata database
dag = DagBag(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]).dags["covertype_ingest"]
summaries = []
for _ in range(2):
    run = dag.test()
    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    with create_session() as session:
        events = [event.extra for event in session.query(AssetEvent).all()]
    groups = httpx.get(os.environ["COVERTYPE_DATA_API_URL"] + "/groups").json()
    [group] = [g for g in groups if g["group_number"] == 2]
    summaries.append(
        {"run_id": run.run_id, "state": str(run.state), "tasks": states, "events": events, "group": group}
    )
print(json.dumps(summaries))
"""

RUN_UNTIL_RESTART = """
import json, os, threading, time, httpx
from datetime import UTC, datetime
from airflow.dag_processing.dagbag import DagBag
from airflow.utils.db import initdb
initdb()
dag = DagBag(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]).dags["covertype_ingest"]
url, interval = os.environ["COVERTYPE_DATA_API_URL"], float(os.environ["COVERTYPE_BATCH_INTERVAL"])
runs = []
def run_once():
    started = time.monotonic()
    run = dag.test()
    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    runs.append({"tasks": states, "seconds": time.monotonic() - started})
run_once()  # the group's only batch
time.sleep(interval)  # its window has ended (a run without a champion to score takes less than one)
restarted = {}
def restart():
    restarted["at"] = datetime.now(UTC).replace(tzinfo=None).isoformat()
    httpx.get(url + "/restart_data_generation", params={"group_number": 2}).raise_for_status()
timer = threading.Timer(3 * interval, restart)
timer.start()
run_once()  # starts after the last window: all batches were delivered
timer.join()
print(json.dumps({"runs": runs, "restarted_at": restarted["at"]}))
"""


@pytest.mark.slow
def test_after_the_last_batch_the_next_run_waits_deferred_for_a_restart_then_polls_again(
    tmp_path: Path, sample_csv: Path
) -> None:
    """No poll and no skipped run every interval once all batches were delivered: the next run's wait
    re-checks ``GET /groups`` every 10 intervals and polls only once the group was restarted."""
    store = f"sqlite:///{tmp_path / 'store.db'}"
    interval = 2.0
    api_settings = data_api_settings(tmp_path, sample_csv, groups=2, batches=1, batch_interval=interval)
    with data_api_server(api_settings, port=unused_port()) as url:
        settings = Settings(
            data_dir=tmp_path, data_api_url=url, database_url=store, group=2, batch_interval=interval
        )
        result = run_python(RUN_UNTIL_RESTART, airflow_env(tmp_path / "airflow", settings), tmp_path)

    first, waiting = result["runs"]
    assert first["tasks"]["ingest_batch"] == "success", result
    assert waiting["tasks"]["wait_for_window"] == "success", result
    # The restart came 3 intervals into the run; its wait saw it at its re-check, 10 intervals in.
    assert waiting["seconds"] >= 10 * interval, result
    engine = create_engine(store)
    with engine.connect() as connection:
        polls = connection.execute(select(ingestion_runs.c.started_at).order_by(ingestion_runs.c.id)).all()
    engine.dispose()
    restarted_at = datetime.fromisoformat(result["restarted_at"]).replace(microsecond=0)
    assert len(polls) == 2, polls  # one poll per run: none while the group stayed finished
    assert polls[0].started_at < restarted_at <= polls[1].started_at, (polls, restarted_at)


@pytest.mark.slow
def test_the_dag_parses_without_errors_and_as_designed(tmp_path: Path) -> None:
    env = airflow_env(tmp_path / "airflow", Settings(data_dir=tmp_path, batch_interval=120))
    parsed = run_python(PARSE, env, tmp_path)

    assert parsed["errors"] == {}
    assert "covertype_ingest" in parsed["dag_ids"]
    assert parsed | {"dag_ids": None, "errors": None} == {
        "dag_ids": None, "errors": None, "schedule": "@continuous", "catchup": False, "max_active_runs": 1,
        "tasks": ["evaluate_batch", "ingest_batch", "wait_for_window"], "upstream": ["wait_for_window"],
        "evaluate_upstream": ["ingest_batch"], "wait_retries": 4,
        "retries": 4, "backoff": 2.0, "outlets": [], "evaluate_outlets": ["covertype_raw"], "doc": True,
    }  # fmt: skip


@pytest.mark.slow
def test_each_run_stores_the_next_batch_right_when_its_window_opens(tmp_path: Path, sample_csv: Path) -> None:
    """Run 1 opens batch 1 at once; run 2 waits (deferred to a trigger, then asleep) for batch 2's window."""
    home = tmp_path / "airflow"
    store = f"sqlite:///{tmp_path / 'store.db'}"
    interval = 45.0  # longer than the wait's resume lead (30 s): the second run really defers
    api_settings = data_api_settings(tmp_path, sample_csv, groups=2, batches=3, batch_interval=interval)
    with data_api_server(api_settings, port=unused_port()) as url:
        settings = Settings(
            data_dir=tmp_path, data_api_url=url, database_url=store, group=2, batch_interval=interval
        )
        env = airflow_env(home, settings)

        first, second = run_python(RUN_TWICE, env, tmp_path)

    polled = int(15_000 / 3 * 0.1)  # one batch's slice, sampled
    for run, batch in ((first, 1), (second, 2)):
        assert run["state"] == "success", run
        # No champion yet: evaluate_batch runs, records nothing and says so.
        assert run["tasks"] == {
            "wait_for_window": "success",
            "ingest_batch": "success",
            "evaluate_batch": "success",
        }, run
        assert run["events"][-1] == {
            "group_number": 2,
            "batch_number": batch,
            "rows_inserted": polled,
            "rejected": 0,
        }
        assert count_rows(store, "forest_cover_data", group_number=2, batch_number=batch) == polled
        assert run["group"]["batch_number"] == batch

    engine = create_engine(store)
    with engine.connect() as connection:
        runs = connection.execute(
            select(ingestion_runs.c.run_id, ingestion_runs.c.batch_number, ingestion_runs.c.started_at)
        ).all()
    engine.dispose()
    assert [(r.run_id, r.batch_number) for r in runs] == [(first["run_id"], 1), (second["run_id"], 2)]
    # Batch 2 was polled right after its window opened (announced after run 1), neither before nor late.
    opened = datetime.fromisoformat(first["group"]["next_batch_at"]).replace(tzinfo=None)
    polled_at = runs[1].started_at  # whole seconds
    assert opened - timedelta(seconds=1) <= polled_at <= opened + timedelta(seconds=5), (opened, polled_at)


@pytest.mark.slow
def test_evaluate_batch_scores_the_champion_on_the_batch_just_stored(
    tmp_path: Path, sample_csv: Path
) -> None:
    """Test-then-train in the DAG: the champion (trained on other rows) is scored on the stored batch."""
    registry = registry_settings(tmp_path / "registry")
    frame = load_dataset(sample_csv)
    champion = train_version(registry, frame.tail(3_000), candidates="logreg")
    store = f"sqlite:///{tmp_path / 'store.db'}"
    api_settings = data_api_settings(tmp_path, sample_csv, groups=2, batches=3, batch_interval=45.0)
    with data_api_server(api_settings, port=unused_port()) as url:
        settings = Settings(
            data_dir=tmp_path,
            data_api_url=url,
            database_url=store,
            group=2,
            batch_interval=45,
            mlflow_tracking_uri=registry.tracking_uri,
        )
        env = airflow_env(tmp_path / "airflow", settings)
        run = run_python(RUN_ONCE, env, tmp_path)

    assert run["state"] == "success" and run["tasks"]["evaluate_batch"] == "success", run
    engine = create_engine(store)
    [row] = batch_quality_rows(engine)
    engine.dispose()
    assert (row.group_number, row.batch_number) == (2, 1)
    assert row.model_version == champion["registered"]["version"]
    assert row.rows == count_rows(store, "forest_cover_data", group_number=2, batch_number=1)
    assert 0.4 < row.accuracy <= 1.0 and row.drift_score is not None
