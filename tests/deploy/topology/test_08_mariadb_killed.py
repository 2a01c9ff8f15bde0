"""Fault 4: MariaDB SIGKILLed inside the transaction that stores a full-size batch (58,101 distinct rows,
held before its commit by the pause point ``batch-before-commit``), then started again.

The data API is switched, as a user would by editing ``.env``, to a 581,012-row file of distinct rows in 10
batches at fraction 1.0, and the group restarted, so its next batch has the full dataset's batch size. The
store's transaction dies with the server; the ingest task's retry stores the batch again. What must hold:
every row stored exactly once, and ``ingestion_runs`` holds the failed attempt and the success.

The last stage: ``covertype_train`` is paused first (a training on 60,000 rows is not this fault's subject),
``covertype_ingest`` at the end.
"""

from __future__ import annotations

import time

import httpx
import psutil
import pytest

from covertype.pause_points import BATCH_BEFORE_COMMIT
from support import faults
from support.paths import SAMPLE_CSV
from support.topology import Topology, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.mariadb]


@pytest.mark.timeout(900)
def test_mariadb_killed_while_a_full_size_batch_is_stored(topology: Topology) -> None:
    api = topology.admin()
    database = topology.components["mysql"]
    data_api = topology.components["api-data"]
    worker = topology.components["airflow-worker"]
    pauses = topology.pauses
    group = int(topology.dotenv.get("COVERTYPE_GROUP", "1"))

    with topology.stages.stage("fault 4: the data API on a 581,012-row file, its group restarted"):
        faults.set_paused(api, faults.TRAIN_DAG, True)
        source = faults.full_size_file(SAMPLE_CSV, topology.tmp / "covtype-full-size.csv")
        topology.edit_dotenv(
            COVERTYPE_DATA_SOURCE=str(source), COVERTYPE_SAMPLE_FRACTION="1.0", COVERTYPE_BATCHES="10"
        )
        before = faults.store_counts(topology)
        last_run = max((r["id"] for r in faults.ingestion_runs(topology)), default=0)
        data_api.restart(env=topology.environment("api-data")).wait_healthy(300)
        pauses.arm(BATCH_BEFORE_COMMIT)
        restarted = httpx.get(
            f"{data_api.url}/restart_data_generation", params={"group_number": group}, timeout=60
        )
        assert restarted.status_code == 200, restarted.text

    with topology.stages.stage("fault 4: MariaDB SIGKILLed inside the batch's transaction, restarted"):
        paused = pauses.wait_reached(BATCH_BEFORE_COMMIT, timeout=300)
        assert worker.service.process is not None
        assert paused in {p.pid for p in psutil.Process(worker.service.process.pid).children(recursive=True)}
        killed = time.monotonic()
        database.kill()
        pauses.release(BATCH_BEFORE_COMMIT)
        database.start()
        database.wait_healthy(120)

        def stored() -> list[dict[str, object]] | None:
            runs = [r for r in faults.ingestion_runs(topology) if r["id"] > last_run]
            return runs if any(r["status"] == "success" for r in runs) else None

        runs = wait_for(stored, timeout=300, what="the full-size batch stored after MariaDB came back")
        recovered = time.monotonic() - killed

    # The stack lives until the end of the test session (the package fixture's teardown): no more batches
    # of 58,101 rows every minute meanwhile.
    faults.set_paused(api, faults.INGEST_DAG, True)
    success = [r for r in runs if r["status"] == "success"]
    failed = [r for r in runs if r["status"] == "failed"]
    assert len(success) == 1, runs
    assert success[0]["rows_received"] == faults.FULL_BATCH_ROWS, success
    assert success[0]["rows_inserted"] == faults.FULL_BATCH_ROWS, success
    assert failed and failed[0]["run_id"] == success[0]["run_id"], runs  # the failed attempt, same poll
    after = faults.store_counts(topology)
    assert after["stored"] - before["stored"] == faults.FULL_BATCH_ROWS, (before, after)
    assert after["stored"] == after["distinct"] == after["inserted"], after

    faults.record_fault(
        topology,
        "mariadb",
        recovery_seconds=round(recovered, 1),
        recovered_by=f"the store's retry in the same task ({len(failed)} failed attempt(s) recorded)",
        batch_rows=faults.FULL_BATCH_ROWS,
        rows_lost=faults.FULL_BATCH_ROWS - success[0]["rows_inserted"],
        rows_duplicated=after["stored"] - after["distinct"],
        ingestion_runs=[f"{r['status']}: {str(r['error'] or '')[:120]}" for r in runs],
        versions_registered=None,
        failed_predictions=None,
    )
