"""Fault 5: the Airflow scheduler SIGKILLed while a training candidate runs (held at the pause point
``candidate-logging``), then started again (compose's restart policy).

The candidate keeps running on the worker (it reports to the api-server, not to the scheduler); the new
scheduler adopts the dead one's tasks and schedules the rest of the run. What must hold: the run succeeds
with one registered version and the champion is a whole version.
"""

from __future__ import annotations

import time

import pytest

from covertype.pause_points import CANDIDATE_LOGGING
from support import faults
from support.topology import Topology

pytestmark = [pytest.mark.slow, pytest.mark.mariadb]

#: How long the scheduler stays dead: longer than its health threshold (30 s), so that its SchedulerJob is
#: taken for dead and its tasks adopted, as after a crash and a slow restart.
DOWN_SECONDS = 35


@pytest.mark.timeout(900)
def test_the_scheduler_killed_while_a_training_runs(
    topology: Topology, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = topology.admin()
    mlflow = faults.mlflow_admin(topology, monkeypatch)
    name = faults.model_name(topology)
    scheduler = topology.components["airflow-scheduler"]
    pauses = topology.pauses

    with topology.stages.stage("fault 5: scheduler SIGKILLed during a training, restarted"):
        pauses.arm(CANDIDATE_LOGGING)
        run_id = faults.trigger(api, faults.TRAIN_DAG, faults.QUICK_TRAINING)
        pauses.wait_reached(CANDIDATE_LOGGING, timeout=420)
        killed = time.monotonic()
        scheduler.kill()
        time.sleep(DOWN_SECONDS)
        scheduler.start()
        pauses.release(CANDIDATE_LOGGING)
        faults.finished_state(topology, api, faults.TRAIN_DAG, run_id, timeout=600)
        recovered = time.monotonic() - killed

    outcome = faults.training_outcome(mlflow, name, run_id)
    assert len(outcome.versions) == 1, outcome
    assert "RUNNING" not in {status for status, _ in outcome.nested.values()}, outcome.nested
    champion = faults.assert_champion_whole(mlflow, name)

    faults.record_fault(
        topology,
        "scheduler",
        recovery_seconds=round(recovered, 1),
        down_seconds=DOWN_SECONDS,
        recovered_by="the restarted scheduler adopts the running task and schedules the rest of the run",
        rows_lost=0,
        rows_duplicated=0,
        versions_registered=len(outcome.versions),
        champion=champion,
        failed_predictions=None,
    )
