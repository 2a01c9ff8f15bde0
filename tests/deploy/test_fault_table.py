"""The README's table of faults on the production topology is rendered from the harness's results file, and
the production values it lists beside the harness's shortened timeouts are the ones production runs with."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from support.compose import COMPOSE_PATH
from support.faults import FAULTS
from support.paths import REPO_ROOT
from support.topology import RECOVERY_TIMEOUTS

SCRIPT = REPO_ROOT / "scripts" / "fault_table.py"


def test_the_readme_block_is_the_results_file_rendered() -> None:
    done = subprocess.run([sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True)

    assert done.returncode == 0, done.stdout + done.stderr


def test_the_results_file_has_every_fault_once_in_the_table_order() -> None:
    results = json.loads((REPO_ROOT / "benchmarks" / "results" / "topology_faults.json").read_text())

    assert [row["key"] for row in results["figures"]["faults"]] == list(FAULTS)
    for row in results["figures"]["faults"]:
        assert row["rows_lost"] in (0, None) and row["rows_duplicated"] in (0, None), row
        assert row["versions_registered"] in (1, None), row


def airflow_default(variable: str) -> str | None:
    """Airflow's own default of ``AIRFLOW__SECTION__KEY``, as text."""
    from airflow.configuration import conf

    section, key = variable.removeprefix("AIRFLOW__").lower().split("__")
    value = conf.get_default_value(section, key, fallback=None)
    return None if value is None else str(value)


@pytest.mark.parametrize("variable", sorted(RECOVERY_TIMEOUTS))
def test_each_listed_production_value_is_what_production_runs(variable: str) -> None:
    harness, production, _ = RECOVERY_TIMEOUTS[variable]
    compose_env = yaml.safe_load(COMPOSE_PATH.read_text())["x-airflow-common"]["environment"]
    actual = compose_env.get(variable) or airflow_default(variable)

    assert actual is not None, f"{variable}: neither compose nor Airflow sets it"
    assert float(actual) == float(production), (variable, actual, production)
    assert float(harness) < float(production)
