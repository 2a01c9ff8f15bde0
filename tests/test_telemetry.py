"""MLflow's usage telemetry is off in covertype's processes unless the user turns it on."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

CHECK = (
    "import covertype.registry.client\n"
    "from mlflow.environment_variables import MLFLOW_DISABLE_TELEMETRY\n"
    "print(MLFLOW_DISABLE_TELEMETRY.get())\n"
)


@pytest.mark.parametrize(("preset", "disabled"), [(None, "True"), ("false", "False"), ("true", "True")])
def test_telemetry_is_off_unless_the_user_sets_it(preset: str | None, disabled: str) -> None:
    env = {key: value for key, value in os.environ.items() if key != "MLFLOW_DISABLE_TELEMETRY"}
    if preset is not None:
        env["MLFLOW_DISABLE_TELEMETRY"] = preset
    result = subprocess.run(
        [sys.executable, "-c", CHECK], env=env, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == disabled
