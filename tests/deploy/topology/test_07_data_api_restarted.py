"""Fault 6: the data API SIGKILLed five seconds before an ingest window opens and started again ten
seconds after it opened (compose's restart policy, slowed down).

The schedule is on disk (``COVERTYPE_STATE_PATH``): the restarted API hands out the next batch, not the
first again and not the one after. The ingest task's poll fails while the API is dead and is retried. What
must hold: no batch skipped, none stored twice, the window's batch stored within one interval of its opening.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from support import faults
from support.topology import Topology, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.mariadb]

BEFORE_OPENING = 5.0
DOWN_SECONDS = 15.0


@pytest.mark.timeout(600)
def test_the_data_api_restarted_across_a_window(topology: Topology) -> None:
    data_api = topology.components["api-data"]
    interval = float(topology.dotenv["COVERTYPE_BATCH_INTERVAL"])

    with topology.stages.stage("fault 6: data API SIGKILLed across a window, restarted"):
        batch, opens = faults.next_window(topology, at_least=BEFORE_OPENING + 5)
        faults.sleep_until(opens - timedelta(seconds=BEFORE_OPENING))
        data_api.kill()
        killed = time.monotonic()
        time.sleep(DOWN_SECONDS)
        data_api.start()
        data_api.wait_healthy(120)
        assert faults.group_status(topology)["batch_number"] in (batch - 1, batch)  # progress kept on disk
        stored = wait_for(
            lambda: faults.stored_at(topology, batch), timeout=interval + 120, what=f"batch {batch} stored"
        )
        recovered = time.monotonic() - killed

    late = (stored - opens).total_seconds()
    assert late <= interval, f"batch {batch} stored {late:.0f} s after its window opened (> {interval:.0f} s)"
    assert faults.missing_batches(topology) == []
    counts = faults.store_counts(topology)
    assert counts["stored"] == counts["distinct"] == counts["inserted"], counts
    runs = [r for r in faults.ingestion_runs(topology, batch) if r["status"] == "success"]
    assert len(runs) == 1 and runs[0]["rows_inserted"] > 0, runs
    assert runs[0]["rows_received"] == sum(runs[0][k] for k in ("rows_inserted", "duplicates", "rejected"))

    faults.record_fault(
        topology,
        "data_api",
        recovery_seconds=round(recovered, 1),
        down_seconds=DOWN_SECONDS,
        batch_stored_after_opening_seconds=round(late, 1),
        rows_lost=0,
        rows_duplicated=counts["stored"] - counts["distinct"],
        batches_skipped=0,
        versions_registered=None,
        failed_predictions=None,
    )
