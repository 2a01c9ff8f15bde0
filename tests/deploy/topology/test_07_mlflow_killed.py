"""Fault 3: the MLflow server SIGKILLed during ``register``, between creating the version and setting its
reason tags (the pause point ``version-created``), then started again after :data:`DOWN_SECONDS`.

Meanwhile clients predict through nginx and both replicas. What must hold: the run ends with one version,
complete (the retry, by the MLflow client or by Airflow, finishes the version it finds rather than
registering another), the champion is a whole version, and not one prediction fails.
"""

from __future__ import annotations

import time

import httpx
import pytest

from covertype.pause_points import VERSION_CREATED
from covertype.registry import tags
from support import faults
from support.load import Load
from support.topology import Topology, sample_record, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.mariadb]

#: How long MLflow stays dead (then its start takes its own 10-60 s on this machine).
DOWN_SECONDS = 10


def serving(url: str) -> bool | None:
    try:
        return True if httpx.get(f"{url}/ready", timeout=10).status_code == 200 else None
    except httpx.HTTPError:
        return None


@pytest.mark.timeout(900)
def test_mlflow_killed_during_register(topology: Topology, monkeypatch: pytest.MonkeyPatch) -> None:
    api = topology.admin()
    mlflow = faults.mlflow_admin(topology, monkeypatch)
    name = faults.model_name(topology)
    server = topology.components["mlflow"]
    pauses = topology.pauses
    for replica in ("inference-api", "inference-api-2"):
        wait_for(lambda r=replica: serving(topology.url(r)), timeout=300, what=f"{replica} serving")
    champion_before = faults.assert_champion_whole(mlflow, name)
    traffic = Load(topology.url("inference-lb"), sample_record())

    with topology.stages.stage("fault 3: MLflow SIGKILLed during register, restarted"), traffic.background():
        pauses.arm(VERSION_CREATED)
        run_id = faults.trigger(api, faults.TRAIN_DAG, faults.QUICK_TRAINING)
        pauses.wait_reached(VERSION_CREATED, timeout=420)
        created = faults.training_outcome(mlflow, name, run_id).versions
        assert len(created) == 1, created
        half = mlflow.get_model_version(name, created[0]).tags
        assert tags.REGISTRATION_TAG not in half and tags.TRAINING_REASON_TAG not in half, half
        killed = time.monotonic()
        server.kill()
        pauses.release(VERSION_CREATED)
        time.sleep(DOWN_SECONDS)
        server.start()
        server.wait_healthy(300)
        faults.finished_state(topology, api, faults.TRAIN_DAG, run_id, timeout=600)
        recovered = time.monotonic() - killed

    outcome = faults.training_outcome(mlflow, name, run_id)
    assert outcome.versions == created, f"the retry registered another version: {outcome.versions}"
    finished = mlflow.get_model_version(name, created[0]).tags
    assert finished.get(tags.REGISTRATION_TAG) == tags.REGISTRATION_COMPLETE, finished
    assert finished.get(tags.TRAINING_REASON_TAG), finished
    champion = faults.assert_champion_whole(mlflow, name)
    figures = traffic.figures()
    assert figures["failed"] == 0, figures
    assert figures["requests"] > 0

    faults.record_fault(
        topology,
        "mlflow",
        recovery_seconds=round(recovered, 1),
        down_seconds=DOWN_SECONDS,
        recovered_by=(
            f"register's try {faults.tries(api, faults.TRAIN_DAG, run_id, 'register')} completed "
            f"version {created[0]} it found (MLflow's client retries, then Airflow's)"
        ),
        rows_lost=0,
        rows_duplicated=0,
        versions_registered=len(outcome.versions),
        champion_before=champion_before,
        champion=champion,
        predictions=figures["requests"],
        failed_predictions=figures["failed"],
    )
