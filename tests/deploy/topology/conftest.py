"""The production topology started once for every stage in this folder (support/topology.py says what runs).

The stages are the test modules here, run in the order of their names (``test_01_...``, ``test_02_...``):
each one uses the same started stack and leaves it running for the next. A later stage may rely on what
an earlier one waited for (a champion served), but waits for it again itself, so that it can run alone.
How long each part took and the memory of every component are printed at the end.

The fault stages (``test_05_...`` to ``test_08_...``, with stage 3's replica kill) each add a row to the
fault table; once all seven ran, the table goes to ``benchmarks/results/topology_faults.json``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from support.faults import FAULTS
from support.paths import REPO_ROOT
from support.topology import RECOVERY_TIMEOUTS, Stages, Topology, start_topology

sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
from results_file import write_results  # noqa: E402


@pytest.fixture(scope="package")
def topology(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[Topology]:
    stages = Stages()
    load_before = list(os.getloadavg())
    try:
        with ExitStack() as stack:
            topology = start_topology(tmp_path_factory.mktemp("topology"), stack, stages)
            yield topology
            stages.notes.append(topology.memory_note())
            if set(topology.faults) == set(FAULTS):
                write_fault_table(topology, load_before)
            with stages.stage("stop every process"):
                stack.close()
    finally:
        # Past pytest's output capture, which holds a fixture's teardown output back unless a test failed.
        plugins = request.config.pluginmanager
        with plugins.get_plugin("capturemanager").global_and_fixture_disabled():
            plugins.get_plugin("terminalreporter").write_line("\n" + stages.report())


def write_fault_table(topology: Topology, load_before: list[float]) -> None:
    """The seven faults' rows, in the table's order, with the recovery timeouts the harness ran with."""
    figures = {
        "faults": [{"key": key, **topology.faults[key]} for key in FAULTS],
        "recovery_timeouts": {
            key: {"harness": harness, "production": production, "what": what}
            for key, (harness, production, what) in RECOVERY_TIMEOUTS.items()
        },
        "batch_interval_seconds": float(topology.dotenv["COVERTYPE_BATCH_INTERVAL"]),
        "stages_seconds": {name: round(seconds, 1) for name, seconds in topology.stages.rows},
    }
    write_results("topology_faults", figures, load_before=load_before)
