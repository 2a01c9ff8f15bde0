"""Faults 1, 5 and 3, one after the other in one training run (``covertype_train`` forced, one candidate),
each landed by a test-only pause point (``covertype.pause_points``) and each component started again as
compose's restart policy does:

1. the Celery worker SIGKILLed inside the candidate, its nested MLflow run open (``candidate-logging``);
   the scheduler finds the task's heartbeats stopped, fails the try, and Airflow retries it on the
   restarted worker, whose new try closes the run the killed one left ``RUNNING`` (``KILLED``, a reason);
5. the scheduler SIGKILLed while that retried candidate runs (held at the same point again), dead for
   longer than its health threshold; the restarted scheduler adopts the task and schedules the rest;
3. the MLflow server SIGKILLed during ``register``, between creating the version and setting its reason
   tags (``version-created``), while clients predict through nginx; the retry (MLflow's client's, or
   Airflow's) completes the version it finds instead of registering another.

What must hold: the run succeeds with one registered version, complete; no nested run stays ``RUNNING``;
the champion is a whole version (ONNX graph and tags) throughout; not one prediction fails.
"""

from __future__ import annotations

import time

import httpx
import psutil
import pytest
from mlflow.tracking import MlflowClient

from covertype.pause_points import CANDIDATE_LOGGING, VERSION_CREATED
from covertype.registry import tags
from support import faults
from support.load import Load
from support.topology import Component, Topology, ended, sample_record, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.mariadb]

#: The scheduler stays dead longer than its health threshold (30 s): its tasks must be adopted.
SCHEDULER_DOWN_SECONDS = 35
#: MLflow stays dead this long, then its start takes its own 10-60 s on this machine.
MLFLOW_DOWN_SECONDS = 10


def serving(url: str) -> bool | None:
    try:
        return True if httpx.get(f"{url}/ready", timeout=10).status_code == 200 else None
    except httpx.HTTPError:
        return None


def in_tree(component: Component, pid: int) -> bool:
    """Whether ``pid`` is a process the component started (the task's process, for the worker)."""
    assert component.service.process is not None
    root = psutil.Process(component.service.process.pid)
    return pid in {p.pid for p in root.children(recursive=True)}


@pytest.mark.timeout(1500)
def test_worker_scheduler_and_mlflow_killed_in_one_training(
    topology: Topology, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = topology.admin()
    mlflow = faults.mlflow_admin(topology, monkeypatch)
    name = faults.model_name(topology)
    for replica in ("inference-api", "inference-api-2"):
        wait_for(lambda r=replica: serving(topology.url(r)), timeout=300, what=f"{replica} serving")
    champion_before = faults.assert_champion_whole(mlflow, name)
    # The faults must land in this run, not in a training a batch's signal started: no batch meanwhile.
    faults.set_paused(api, faults.INGEST_DAG, True)
    try:
        _three_faults(topology, api, mlflow, name, champion_before)
    finally:
        faults.set_paused(api, faults.INGEST_DAG, False)


def _three_faults(
    topology: Topology, api: httpx.Client, mlflow: MlflowClient, name: str, champion_before: str
) -> None:
    worker, scheduler, server = (
        topology.components[n] for n in ("airflow-worker", "airflow-scheduler", "mlflow")
    )
    pauses = topology.pauses
    stage = topology.stages.stage

    with stage("faults 1, 5, 3: a forced training up to its candidate's nested run"):
        wait_for(lambda: faults.no_active_run(api, faults.TRAIN_DAG), timeout=900, what="trainings ended")
        pauses.arm(CANDIDATE_LOGGING)
        run_id = faults.trigger(api, faults.TRAIN_DAG, faults.QUICK_TRAINING)
        paused = pauses.wait_reached(CANDIDATE_LOGGING, timeout=600)
        assert in_tree(worker, paused), "the paused candidate does not run on the worker"

    with stage("fault 1: the worker SIGKILLed inside the candidate, restarted, the try retried"):
        pauses.arm(CANDIDATE_LOGGING)  # the retried try pauses there again: fault 5 lands in it
        killed = time.monotonic()
        worker.kill()
        assert ended(paused), "the candidate's process outlived its worker"
        worker.start()
        retried = pauses.wait_reached(CANDIDATE_LOGGING, timeout=600)
        worker_recovered = time.monotonic() - killed
        assert retried != paused and in_tree(worker, retried)
        candidate_tries = faults.tries(api, faults.TRAIN_DAG, run_id, "search_candidate")
        assert candidate_tries >= 2, "the killed try was not retried"
        outcome = faults.training_outcome(mlflow, name, run_id)
        killed_runs = [error for status, error in outcome.nested.values() if status == "KILLED"]
        assert len(killed_runs) == 1 and "abandoned" in killed_runs[0], outcome.nested
        assert [s for s, _ in outcome.nested.values()].count("RUNNING") == 1  # the retried try's own

    with stage("fault 5: the scheduler SIGKILLed during the candidate, restarted"):
        pauses.arm(VERSION_CREATED)
        killed = time.monotonic()
        scheduler.kill()
        time.sleep(SCHEDULER_DOWN_SECONDS)
        scheduler.start()
        pauses.release(CANDIDATE_LOGGING)
        pauses.wait_reached(VERSION_CREATED, timeout=600)  # the run went on: register runs
        scheduler_recovered = time.monotonic() - killed
        created = faults.training_outcome(mlflow, name, run_id).versions
        assert len(created) == 1, created
        half = mlflow.get_model_version(name, created[0]).tags
        assert half[tags.REGISTRATION_TAG] == tags.REGISTRATION_INCOMPLETE, half
        assert tags.TRAINING_REASON_TAG not in half, half

    # two clients: predictions all through the fault, without starving the training of the two cores
    traffic = Load(topology.url("inference-lb"), sample_record(), clients=2)
    with stage("fault 3: MLflow SIGKILLed during register, restarted; the run ends"), traffic.background():
        time.sleep(2)  # predictions flowing before the kill
        killed = time.monotonic()
        server.kill()
        pauses.release(VERSION_CREATED)
        time.sleep(MLFLOW_DOWN_SECONDS)
        server.start()
        server.wait_healthy(300)
        faults.finished_state(topology, api, faults.TRAIN_DAG, run_id, timeout=600)
        mlflow_recovered = time.monotonic() - killed

    outcome = faults.training_outcome(mlflow, name, run_id)
    assert outcome.versions == created, f"the retry registered another version: {outcome.versions}"
    finished = mlflow.get_model_version(name, created[0]).tags
    assert finished.get(tags.REGISTRATION_TAG) == tags.REGISTRATION_COMPLETE, finished
    assert finished.get(tags.TRAINING_REASON_TAG), finished
    statuses = sorted(status for status, _ in outcome.nested.values())
    assert "RUNNING" not in statuses, outcome.nested
    assert mlflow.get_run(outcome.parent_run_id).info.status == "FINISHED"
    champion = faults.assert_champion_whole(mlflow, name)
    predictions = traffic.figures()
    assert predictions["failed"] == 0 and predictions["requests"] > 0, predictions

    common = {"rows_lost": 0, "rows_duplicated": 0, "versions_registered": len(outcome.versions)}
    faults.record_fault(
        topology,
        "worker",
        recovery_seconds=round(worker_recovered, 1),
        recovered_by=(
            f"heartbeat timeout, then Airflow's retry (try {candidate_tries}) on the restarted worker; "
            f"the killed try's nested run closed KILLED (nested runs at the end: {', '.join(statuses)})"
        ),
        failed_predictions=None,
        **common,
    )
    faults.record_fault(
        topology,
        "scheduler",
        recovery_seconds=round(scheduler_recovered, 1),
        down_seconds=SCHEDULER_DOWN_SECONDS,
        recovered_by="the restarted scheduler adopted the running candidate and scheduled register",
        failed_predictions=None,
        **common,
    )
    faults.record_fault(
        topology,
        "mlflow",
        recovery_seconds=round(mlflow_recovered, 1),
        down_seconds=MLFLOW_DOWN_SECONDS,
        recovered_by=(
            f"register (try {faults.tries(api, faults.TRAIN_DAG, run_id, 'register')}) completed version "
            f"{created[0]} (champion v{champion_before} before, v{champion} after)"
        ),
        predictions=predictions["requests"],
        failed_predictions=predictions["failed"],
        **common,
    )
