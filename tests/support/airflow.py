"""Airflow in a fresh interpreter: its environment and a way to run code there and read its answer.

Airflow reads its configuration at import, so each test gives it its own ``AIRFLOW_HOME`` (SQLite metadata
database, this repository's DAGs) in a child process; its configuration never leaks into other tests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from covertype.settings import Settings
from support.paths import REPO_ROOT


def airflow_env(home: Path, settings: Settings, **extra: str) -> dict[str, str]:
    """The environment of an Airflow on ``home``, whose tasks read exactly ``settings``.

    The settings reach the child the way the product hands them to its own children
    (:meth:`Settings.child_environ`): every covertype variable of this process is replaced, so nothing of
    the shell or of an earlier test points the tasks at another store; no ``AIRFLOW*`` variable of this
    process is kept either. ``extra`` comes last.
    """
    inherited = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW")}
    return settings.child_environ(inherited) | {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        **extra,
    }


def run_python(code: str, env: dict[str, str], cwd: Path, timeout: float = 900) -> Any:
    """Run ``code`` in a fresh interpreter; its last output line is JSON, returned parsed."""
    result = run_python_output(code, env, cwd, timeout)
    return json.loads(result.stdout.strip().splitlines()[-1])


def run_python_output(
    code: str, env: dict[str, str], cwd: Path, timeout: float = 900
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter, which must succeed; its whole output (Airflow's logs among it)."""
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return result
