"""The suite's guard against leaks between tests (``conftest._hermetic_environment``).

A module-scoped fixture that loads a model with MLflow's fluent API sets ``MLFLOW_TRACKING_URI`` for the
process; before the guard, every later test's ``Settings()`` and child processes used that store (the
training DAG test then found a champion it never made and skipped). The tests run in file order.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import mlflow
import pytest

from covertype.settings import Settings


@pytest.fixture(scope="module")
def leaky_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """What such a fixture does: point MLflow's process-wide URIs and a covertype variable elsewhere."""
    uri = f"sqlite:///{tmp_path_factory.mktemp('leak') / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    os.environ["COVERTYPE_GROUP"] = "7"
    yield uri


def test_a_test_that_uses_the_leaky_fixture_sees_it(leaky_store: str) -> None:
    assert os.environ["MLFLOW_TRACKING_URI"] == leaky_store
    assert Settings().group == 7


def test_the_next_test_starts_from_the_sessions_environment(tmp_path: Path) -> None:
    assert "MLFLOW_TRACKING_URI" not in os.environ and "COVERTYPE_GROUP" not in os.environ
    assert "leak" not in mlflow.get_tracking_uri() and "leak" not in mlflow.get_registry_uri()
    settings = Settings(data_dir=tmp_path)
    assert settings.tracking_uri == f"sqlite:///{tmp_path / 'mlflow.db'}" and settings.group == 1
