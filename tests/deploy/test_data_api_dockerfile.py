"""Static checks of the Dockerfile's ``data-api`` target (no Docker daemon): what the image promises."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from support.dockerfile import all_instructions, stage
from support.paths import REPO_ROOT

README = REPO_ROOT / "docs" / "data-api.md"


@pytest.fixture(scope="module")
def instructions() -> list[str]:
    """The image's instructions (the runtime stage's, then the target's)."""
    return stage("data-api")


@pytest.fixture(scope="module")
def build() -> list[str]:
    """The instructions of the virtualenv the image copies."""
    return stage("build-data-api")


def test_uv_comes_from_a_pinned_image() -> None:
    assert re.fullmatch(r"FROM ghcr\.io/astral-sh/uv:\d+\.\d+\.\d+ AS uv", all_instructions()[0])


def test_the_final_image_is_python_slim_without_uv(instructions: list[str]) -> None:
    assert instructions[0].startswith("FROM python:3.11-slim ")
    assert not any("/uv" in line for line in instructions)
    assert "COPY --from=build-data-api /opt/venv /opt/venv" in instructions


def test_only_the_data_api_extra_is_installed_from_the_lock(build: list[str]) -> None:
    syncs = [line for line in build if "uv sync" in line]
    assert len(syncs) == 2
    assert "--no-install-project" in syncs[0]
    assert all("--locked" in s and "--no-dev" in s and s.count("--extra") == 1 for s in syncs)
    assert all("--extra data-api" in s for s in syncs)


def test_dependencies_are_synced_before_the_source_is_copied(build: list[str]) -> None:
    def position(predicate: Callable[[str], bool]) -> int:
        return next(i for i, line in enumerate(build) if predicate(line))

    lock = position(lambda line: line.startswith("COPY") and "uv.lock" in line)
    dependencies = position(lambda line: "--no-install-project" in line)
    source = position(lambda line: line.startswith("COPY src/"))
    project = position(lambda line: "uv sync" in line and "--no-install-project" not in line)
    assert lock < dependencies < source < project


def test_runs_as_a_non_root_user_with_a_healthcheck_on_health(instructions: list[str]) -> None:
    users = [line.split()[1] for line in instructions if line.startswith("USER ")]
    assert users and users[-1] not in {"root", "0"}
    healthcheck = next(line for line in instructions if line.startswith("HEALTHCHECK"))
    assert "http://127.0.0.1:8000/health" in healthcheck
    assert instructions[-1] == 'CMD ["covertype", "data-api", "--host", "0.0.0.0", "--port", "8000"]'


def test_state_lives_in_a_volume_and_the_dataset_is_documented(instructions: list[str]) -> None:
    assert any(line.startswith("VOLUME") and "/var/lib/covertype" in line for line in instructions)
    assert any("COVERTYPE_STATE_PATH=/var/lib/covertype/" in line for line in instructions)
    readme = README.read_text()
    assert "COVERTYPE_DATA_SOURCE=/data/input/" in readme
