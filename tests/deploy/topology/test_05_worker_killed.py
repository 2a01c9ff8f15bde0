"""Fault 1: the Celery worker SIGKILLed inside a training candidate, while the candidate's nested MLflow run
is open (the pause point ``candidate-logging`` holds it there), then started again (compose's restart policy).

The scheduler finds the task's heartbeats stopped and fails the try; Airflow retries it on the restarted
worker. What must hold: the run succeeds with one registered version, the nested run the killed try left
``RUNNING`` is closed ``KILLED`` with a reason, and the champion is a whole version.
"""

from __future__ import annotations

import time

import psutil
import pytest

from covertype.pause_points import CANDIDATE_LOGGING
from support import faults
from support.topology import Topology

pytestmark = [pytest.mark.slow, pytest.mark.mariadb]


@pytest.mark.timeout(900)
def test_a_worker_killed_inside_a_candidate(topology: Topology, monkeypatch: pytest.MonkeyPatch) -> None:
    api = topology.admin()
    mlflow = faults.mlflow_admin(topology, monkeypatch)
    name = faults.model_name(topology)
    worker = topology.components["airflow-worker"]
    pauses = topology.pauses

    with topology.stages.stage("fault 1: worker SIGKILLed inside a candidate, restarted"):
        pauses.arm(CANDIDATE_LOGGING)
        run_id = faults.trigger(api, faults.TRAIN_DAG, faults.QUICK_TRAINING)
        paused = pauses.wait_reached(CANDIDATE_LOGGING, timeout=420)
        assert worker.service.process is not None
        assert paused in {p.pid for p in psutil.Process(worker.service.process.pid).children(recursive=True)}
        killed = time.monotonic()
        worker.kill()
        psutil.wait_procs([psutil.Process(paused)], timeout=10)  # raises NoSuchProcess if already gone
        pauses.release(CANDIDATE_LOGGING)
        worker.start()
        faults.finished_state(topology, api, faults.TRAIN_DAG, run_id, timeout=600)
        recovered = time.monotonic() - killed

    candidate_tries = faults.tries(api, faults.TRAIN_DAG, run_id, "train_candidate")
    assert candidate_tries >= 2, "the killed try was not retried"
    outcome = faults.training_outcome(mlflow, name, run_id)
    assert len(outcome.versions) == 1, outcome
    statuses = sorted(status for status, _ in outcome.nested.values())
    assert "RUNNING" not in statuses, outcome.nested
    killed_runs = [error for status, error in outcome.nested.values() if status == "KILLED"]
    assert killed_runs and all("abandoned" in error for error in killed_runs), outcome.nested
    champion = faults.assert_champion_whole(mlflow, name)
    assert mlflow.get_run(outcome.parent_run_id).info.status == "FINISHED"

    faults.record_fault(
        topology,
        "worker",
        recovery_seconds=round(recovered, 1),
        recovered_by=f"heartbeat timeout, then retry (try {candidate_tries}) on the restarted worker",
        rows_lost=0,
        rows_duplicated=0,
        versions_registered=len(outcome.versions),
        nested_runs=statuses,
        champion=champion,
        failed_predictions=None,
    )
