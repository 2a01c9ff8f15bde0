"""Static checks of the Dockerfile's ``ui`` target and of what its `ui` extra must be enough for."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from support.dockerfile import all_instructions, stage


@pytest.fixture(scope="module")
def instructions() -> list[str]:
    """The image's instructions (the runtime stage's, then the target's)."""
    return stage("ui")


def test_pinned_uv_and_a_slim_final_stage_without_it(instructions: list[str]) -> None:
    assert re.fullmatch(r"FROM ghcr\.io/astral-sh/uv:\d+\.\d+\.\d+ AS uv", all_instructions()[0])
    assert instructions[0].startswith("FROM python:3.11-slim ")
    assert not any("/uv" in line for line in instructions)
    assert "COPY --from=build-ui /opt/venv /opt/venv" in instructions


def test_only_the_ui_extra_is_installed_from_the_lock() -> None:
    syncs = [line for line in stage("build-ui") if "uv sync" in line]
    assert len(syncs) == 2 and "--no-install-project" in syncs[0]
    assert all(
        "--locked" in s and "--no-dev" in s and s.count("--extra") == 1 and "--extra ui" in s for s in syncs
    )


def test_runs_as_a_non_root_user_with_a_healthcheck(instructions: list[str]) -> None:
    users = [line.split()[1] for line in instructions if line.startswith("USER ")]
    assert users and users[-1] not in {"root", "0"}
    assert "http://127.0.0.1:8501/_stcore/health" in next(
        i for i in instructions if i.startswith("HEALTHCHECK")
    )
    assert instructions[-1] == 'CMD ["covertype", "ui", "--host", "0.0.0.0", "--port", "8501"]'


def test_the_ui_needs_nothing_beyond_its_extra() -> None:
    """The image has no scikit-learn, Airflow or full MLflow: importing the UI must not pull them in."""
    code = (
        "import sys\n"
        "for name in ('sklearn', 'airflow', 'matplotlib', 'lightgbm', 'minio', 'mlflow.sklearn'):\n"
        "    sys.modules[name] = None\n"
        "import covertype.registry.aliases, covertype.cli\n"
        "from covertype.ui import api_client, batch_csv, charts, examples, labels\n"
        "from covertype.registry import queries\n"
        "from covertype.ui import resources\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
