"""The production topology started once for every stage in this folder (support/topology.py says what runs).

The stages are the test modules here, run in the order of their names (``test_01_...``, ``test_02_...``):
each one uses the same started stack and leaves it running for the next. A later stage may rely on what
an earlier one waited for (a champion served), but waits for it again itself, so that it can run alone.
How long each part took and the memory of every component are printed at the end.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from support.topology import Stages, Topology, start_topology


@pytest.fixture(scope="package")
def topology(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[Topology]:
    stages = Stages()
    try:
        with ExitStack() as stack:
            topology = start_topology(tmp_path_factory.mktemp("topology"), stack, stages)
            yield topology
            stages.notes.append(topology.memory_note())
            with stages.stage("stop every process"):
                stack.close()
    finally:
        # Past pytest's output capture, which holds a fixture's teardown output back unless a test failed.
        plugins = request.config.pluginmanager
        with plugins.get_plugin("capturemanager").global_and_fixture_disabled():
            plugins.get_plugin("terminalreporter").write_line("\n" + stages.report())
