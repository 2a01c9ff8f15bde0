"""The repository's one Dockerfile read without Docker: the instructions each target is built from."""

from __future__ import annotations

import json
import re

from support.paths import REPO_ROOT

DOCKERFILE = REPO_ROOT / "Dockerfile"

#: The images built from this repository: compose and the Kubernetes overlays name these targets.
TARGETS = ("data-api", "inference-api", "ui", "mlflow", "airflow")


def all_instructions() -> list[str]:
    """Every instruction of the file: continuation lines joined, comments and blank lines dropped."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def _stages() -> dict[str, list[str]]:
    stages: dict[str, list[str]] = {}
    current: list[str] = []
    for line in all_instructions():
        if line.startswith("FROM "):
            current = []
            named = re.search(r"\sAS\s+(\S+)$", line, re.IGNORECASE)
            stages[named[1] if named else f"#{len(stages)}"] = current
        current.append(line)
    return stages


def stage(name: str) -> list[str]:
    """The instructions of stage ``name`` after those of the stages it is built ``FROM``, base first.

    What the image of a target is made of (a ``COPY --from`` stage is not part of it: see
    :func:`stage` of that stage).
    """
    stages = _stages()
    base = stages[name][0].split()[1]
    return (stage(base) if base in stages else []) + stages[name]


def final_user(target: str, non_root_bases: dict[str, str]) -> str:
    """The user ``target`` runs as: its last USER, else its base image's default (root if unknown)."""
    instructions = stage(target)
    users = [line.split()[1] for line in instructions if line.startswith("USER ")]
    if users:
        return users[-1]
    base = instructions[0].split()[1].split(":")[0]
    return non_root_bases.get(base, "root")


def cmd(target: str) -> list[str]:
    """``target``'s CMD (exec form), which compose runs when the service gives no command."""
    line = next(line for line in reversed(stage(target)) if line.startswith("CMD "))
    return list(json.loads(line.removeprefix("CMD ")))
