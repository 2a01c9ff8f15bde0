"""Fault 2: the broker, Redis, shut down without saving (``SHUTDOWN NOSAVE``: every queued message lost)
three seconds before an ingest window opens, and started again, empty, :data:`DOWN_SECONDS` later.

The window's tasks are queued while the broker is gone (the scheduler cannot send them). What must hold:
the continuous ingest DAG carries on; the window's batch is stored within one batch interval of its
opening, and the next batch too; no batch skipped, no row stored twice; no task is left queued.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
import redis

from support import faults
from support.topology import Topology, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.mariadb]

#: Redis is down from 3 s before the window opens to 12 s after.
BEFORE_OPENING = 3.0
DOWN_SECONDS = 15.0


@pytest.mark.timeout(900)
def test_redis_restarted_across_an_ingest_window(topology: Topology) -> None:
    api = topology.admin()
    broker = topology.components["airflow-redis"]
    interval = float(topology.dotenv["COVERTYPE_BATCH_INTERVAL"])

    with topology.stages.stage("fault 2: Redis SHUTDOWN NOSAVE across a window, started again"):
        before = faults.store_counts(topology)
        batch, opens = faults.next_window(topology, at_least=BEFORE_OPENING + 5)
        faults.sleep_until(opens - timedelta(seconds=BEFORE_OPENING))
        client = redis.Redis(host="127.0.0.1", port=topology.ports["redis"])
        queued_messages = client.llen("default")  # Airflow's Celery queue
        client.shutdown(nosave=True)  # redis-py takes the closed connection for the server's exit
        assert broker.service.process is not None
        broker.service.process.wait(timeout=30)
        down = time.monotonic()
        time.sleep(DOWN_SECONDS)
        broker.start()
        broker.wait_healthy(60)

        stored = wait_for(
            lambda: faults.stored_at(topology, batch),
            timeout=interval + 120,
            what=f"batch {batch} stored after the broker came back",
        )
        recovered = time.monotonic() - down
        next_stored = wait_for(
            lambda: faults.stored_at(topology, batch + 1),
            timeout=2 * interval + 120,
            what=f"batch {batch + 1}: the ingest DAG carries on",
        )

    late = (stored - opens).total_seconds()
    assert late <= interval, f"batch {batch} stored {late:.0f} s after its window opened (> {interval:.0f} s)"
    assert next_stored > stored
    after = faults.store_counts(topology)
    assert after["stored"] == after["distinct"] == after["inserted"], after
    assert faults.missing_batches(topology) == []
    queued = [
        t
        for run in api.get(
            f"/dags/{faults.INGEST_DAG}/dagRuns", params={"limit": 10, "order_by": "-run_after"}
        ).json()["dag_runs"]
        for t in faults.task_instances(api, faults.INGEST_DAG, run["dag_run_id"])
        if t["state"] == "queued"
        and datetime.fromisoformat(t["queued_when"]) < datetime.now(UTC) - timedelta(seconds=60)
    ]
    assert not queued, f"tasks left queued: {queued}"

    faults.record_fault(
        topology,
        "redis",
        recovery_seconds=round(recovered, 1),
        down_seconds=DOWN_SECONDS,
        batch_stored_after_opening_seconds=round(late, 1),
        messages_queued_at_shutdown=queued_messages,
        rows_stored_meanwhile=after["stored"] - before["stored"],
        rows_lost=0,
        rows_duplicated=after["stored"] - after["distinct"],
        versions_registered=None,
        failed_predictions=None,
    )
