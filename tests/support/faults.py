"""What the fault stages of the topology share: start a training and follow it, read what it registered,
check the registry's promises, read the store's batches, and record one row of the fault table.

The table (``topology.faults``) is written to ``benchmarks/results/topology_faults.json`` once every fault
of :data:`FAULTS` ran (``tests/deploy/topology/conftest.py``); the README's reliability table quotes it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from mlflow.tracking import MlflowClient
from sqlalchemy import create_engine, text

from covertype.dataset import write_distinct_copies
from covertype.registry import tags
from support.topology import Topology, tail, wait_for

#: The faults of the table, in its order: key -> (what is killed, and when; the test that shows it).
FAULTS: dict[str, tuple[str, str]] = {
    "worker": (
        "Celery worker SIGKILLed inside a training candidate (its nested MLflow run open)",
        "tests/deploy/topology/test_05_training_faults.py",
    ),
    "redis": (
        "Redis SHUTDOWN NOSAVE across an ingest window's opening, then started again",
        "tests/deploy/topology/test_06_redis_restarted.py",
    ),
    "mlflow": (
        "MLflow server SIGKILLed during register (version created, not yet tagged; dead 10 s), then started",
        "tests/deploy/topology/test_05_training_faults.py",
    ),
    "mariadb": (
        "MariaDB SIGKILLed inside the transaction storing a 58,101-row batch, then started",
        "tests/deploy/topology/test_08_mariadb_killed.py",
    ),
    "scheduler": (
        "Airflow scheduler SIGKILLed while a training candidate runs (dead 35 s), then started",
        "tests/deploy/topology/test_05_training_faults.py",
    ),
    "data_api": (
        "data API SIGKILLed before an ingest window opens, started again after it opened",
        "tests/deploy/topology/test_07_data_api_restarted.py",
    ),
    "inference_replica": (
        "one of two inference replicas SIGKILLed under load behind nginx",
        "tests/deploy/topology/test_03_load_balancer.py",
    ),
}

TRAIN_DAG = "covertype_train"
INGEST_DAG = "covertype_ingest"
#: A forced training of one fast candidate: what the training faults kill things in.
QUICK_TRAINING = {"force": True, "candidates": "logreg", "time_budget": 1}


def record_fault(topology: Topology, key: str, **figures: Any) -> None:
    """One row of the fault table: what was killed, the test, and the measured ``figures``."""
    what, test = FAULTS[key]
    topology.faults[key] = {"fault": what, "test": test, **figures}


# -- Airflow -----------------------------------------------------------------------------------------


def trigger(api: httpx.Client, dag_id: str, conf: dict[str, Any]) -> str:
    """A manual run of ``dag_id`` with ``conf``; its run id."""
    answer = api.post(f"/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["dag_run_id"])


def task_instances(api: httpx.Client, dag_id: str, run_id: str) -> list[dict[str, Any]]:
    answer = api.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances")
    assert answer.status_code == 200, answer.text
    return list(answer.json()["task_instances"])


def finished_state(topology: Topology, api: httpx.Client, dag_id: str, run_id: str, timeout: float) -> str:
    """Wait until the run ends; ``success``, or a failure naming each task's state and the worker's log."""

    def ended() -> str | None:
        try:
            state = api.get(f"/dags/{dag_id}/dagRuns/{run_id}").json()["state"]
        except (httpx.HTTPError, KeyError):
            return None  # the api-server is busy or restarting: ask again
        return state if state in ("success", "failed") else None

    state = wait_for(ended, timeout=timeout, what=f"{dag_id} run {run_id} to end", every=2)
    if state != "success":
        states = {
            f"{t['task_id']}[{t['map_index']}]": t["state"] for t in task_instances(api, dag_id, run_id)
        }
        pytest.fail(f"{run_id} {state}: {states}\nworker log:\n{tail(topology.logs / 'airflow-worker.log')}")
    return state


def tries(api: httpx.Client, dag_id: str, run_id: str, task_id: str) -> int:
    """How many tries the task took (the highest try number of its instances)."""
    return max(t["try_number"] for t in task_instances(api, dag_id, run_id) if t["task_id"] == task_id)


def set_paused(api: httpx.Client, dag_id: str, paused: bool) -> None:
    answer = api.patch(f"/dags/{dag_id}", json={"is_paused": paused})
    assert answer.status_code == 200, answer.text


def no_active_run(api: httpx.Client, dag_id: str) -> bool | None:
    """True once ``dag_id`` has no queued or running run (for :func:`~support.topology.wait_for`)."""
    answer = api.get(f"/dags/{dag_id}/dagRuns", params=[("state", "queued"), ("state", "running")])
    assert answer.status_code == 200, answer.text
    return True if answer.json()["total_entries"] == 0 else None


# -- MLflow ------------------------------------------------------------------------------------------


def mlflow_admin(topology: Topology, monkeypatch: pytest.MonkeyPatch) -> MlflowClient:
    """A client of the MLflow server signed in as its admin (sees every run and version)."""
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", topology.dotenv["MLFLOW_ADMIN_USER"])
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", topology.dotenv["MLFLOW_ADMIN_PASSWORD"])
    url = topology.url("mlflow")
    return MlflowClient(tracking_uri=url, registry_uri=url)


def model_name(topology: Topology) -> str:
    return str(topology.services["inference-api"]["environment"]["COVERTYPE_MODEL_NAME"])


@dataclass(frozen=True)
class TrainingOutcome:
    """What one training run (an Airflow run id) left in MLflow."""

    versions: list[str]  # versions registered from its candidates
    parent_run_id: str
    nested: dict[str, tuple[str, str]]  # nested run id -> (status, covertype.error tag)


def training_outcome(client: MlflowClient, name: str, dag_run_id: str) -> TrainingOutcome:
    runs = client.search_runs(
        experiment_ids=[e.experiment_id for e in client.search_experiments()],
        filter_string=f"tags.`covertype.dag_run_id` = '{dag_run_id}'",
    )
    parents = [r for r in runs if r.data.tags.get("covertype.kind") == "training"]
    assert len(parents) == 1, [r.info.run_id for r in parents]
    nested = {
        r.info.run_id: (r.info.status, r.data.tags.get("covertype.error", ""))
        for r in runs
        if r.data.tags.get("mlflow.parentRunId") == parents[0].info.run_id
    }
    versions = [v.version for v in client.search_model_versions(f"name = '{name}'") if v.run_id in nested]
    return TrainingOutcome(sorted(versions, key=int), parents[0].info.run_id, nested)


def assert_champion_whole(client: MlflowClient, name: str) -> str:
    """The champion has its ONNX graph (artifact and tags) and a completed registration; its number."""
    champion = client.get_model_version_by_alias(name, "champion")
    labels = champion.tags
    for key in (tags.ONNX_ARTIFACT_TAG, tags.ONNX_SIZE_TAG, tags.REGISTRATION_TAG, tags.DECISION_TAG):
        assert labels.get(key), f"champion v{champion.version} lacks the tag {key}: {labels}"
    assert labels[tags.REGISTRATION_TAG] == tags.REGISTRATION_COMPLETE
    files = {
        f.path for f in client.list_artifacts(champion.run_id, tags.ONNX_ARTIFACT_PATH.rsplit("/", 1)[0])
    }
    assert tags.ONNX_ARTIFACT_PATH in files, (champion.version, files)
    return str(champion.version)


# -- the store ---------------------------------------------------------------------------------------


def store_counts(topology: Topology) -> dict[str, int]:
    """Rows stored, distinct row hashes, and the rows the ``success`` runs say they inserted."""
    engine = create_engine(topology.environment("airflow-worker")["COVERTYPE_DATABASE_URL"])
    try:
        with engine.connect() as connection:
            row = connection.execute(
                text(
                    "SELECT (SELECT COUNT(*) FROM forest_cover_data), "
                    "(SELECT COUNT(DISTINCT row_hash) FROM forest_cover_data), "
                    "(SELECT COALESCE(SUM(rows_inserted), 0) FROM ingestion_runs WHERE status = 'success')"
                )
            ).one()
    finally:
        engine.dispose()
    return {"stored": int(row[0]), "distinct": int(row[1]), "inserted": int(row[2])}


def ingestion_runs(topology: Topology, batch_number: int | None = None) -> list[dict[str, Any]]:
    """The ``ingestion_runs`` rows (of one batch), oldest first."""
    engine = create_engine(topology.environment("airflow-worker")["COVERTYPE_DATABASE_URL"])
    where = "" if batch_number is None else f" WHERE batch_number = {int(batch_number)}"
    try:
        with engine.connect() as connection:
            rows = connection.execute(text(f"SELECT * FROM ingestion_runs{where} ORDER BY id")).mappings()
            return [dict(row) for row in rows]
    finally:
        engine.dispose()


def stored_at(topology: Topology, batch_number: int) -> datetime | None:
    """When the batch's ``success`` run finished (UTC), or None while it is not stored."""
    done = [r for r in ingestion_runs(topology, batch_number) if r["status"] == "success"]
    return done[0]["finished_at"].replace(tzinfo=UTC) if done else None


# -- the data API ------------------------------------------------------------------------------------


def group_status(topology: Topology) -> dict[str, Any]:
    """``GET /groups`` for the group the ingest DAG polls."""
    group = int(topology.dotenv.get("COVERTYPE_GROUP", "1"))
    answer = httpx.get(f"{topology.url('api-data')}/groups", timeout=30)
    assert answer.status_code == 200, answer.text
    return next(g for g in answer.json() if g["group_number"] == group)


def next_window(topology: Topology, at_least: float) -> tuple[int, datetime]:
    """The next batch's number and opening, waiting until it is at least ``at_least`` seconds away (and the
    current batch stored), so that a fault can be placed before it."""

    def ready() -> tuple[int, datetime] | None:
        status = group_status(topology)
        if status["batch_number"] is None or status["next_batch_at"] is None:
            return None
        opens = datetime.fromisoformat(status["next_batch_at"])
        current = int(status["batch_number"])
        if stored_at(topology, current) is None:
            return None
        if (opens - datetime.now(UTC)).total_seconds() < at_least:
            return None
        return current + 1, opens

    return wait_for(ready, timeout=240, what="an ingest window far enough ahead", every=1)


def sleep_until(moment: datetime) -> None:
    time.sleep(max(0.0, (moment - datetime.now(UTC)).total_seconds()))


def missing_batches(topology: Topology) -> list[int]:
    """Batch numbers below the highest stored one that have no ``success`` run: batches skipped."""
    stored = {r["batch_number"] for r in ingestion_runs(topology) if r["status"] == "success"}
    return sorted(set(range(1, max(stored, default=0) + 1)) - stored)


#: Rows of the full cover-type dataset, and of one of its batches at fraction 1.0 in 10 batches.
FULL_ROWS = 581_012
FULL_BATCH_ROWS = 58_101
#: Added to Horizontal_Distance_To_Roadways (the shared sample's largest is under 7,200): copy k of a sample
#: row gets ``ROAD_OFFSET + k`` metres more, so no copy equals a row of the sample (stored earlier).
ROAD_OFFSET = 10_000


def full_size_file(sample: Path, target: Path, rows: int = FULL_ROWS) -> Path:
    """A raw 55-column file of ``rows`` distinct rows made from ``sample`` (copies with the road distance
    moved), as the data API reads the real dataset."""
    return write_distinct_copies(sample, target, rows, road_offset=ROAD_OFFSET)
