"""A clean virtual environment holding one extra of the package, as its image installs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from support.paths import REPO_ROOT


def extra_venv(directory: Path, extra: str) -> Path:
    """``uv export --extra EXTRA`` (the locked set a Dockerfile target syncs) and the project, installed into
    a fresh venv under ``directory``; its ``bin`` folder."""
    requirements = directory / f"{extra}-requirements.txt"
    env = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(directory / "unused")}
    subprocess.run(
        ["uv", "--directory", str(REPO_ROOT), "export", "--frozen", "--no-dev", "--extra", extra,
         "--no-emit-project", "-o", str(requirements)],
        check=True, env=env, capture_output=True,
    )  # fmt: skip
    venv = directory / f"{extra}-venv"
    subprocess.run(["uv", "venv", "--python", sys.executable, str(venv)], check=True, capture_output=True)
    python = str(venv / "bin" / "python")
    for args in (["-r", str(requirements)], [str(REPO_ROOT)]):
        subprocess.run(
            ["uv", "pip", "install", "--python", python, "--no-deps", *args], check=True, capture_output=True
        )
    return venv / "bin"
