"""Fixtures shared by every test module: the shared sample, a throw-away MariaDB database, mysql-init/.

Plain helpers (paths, free ports, per-area fixtures) live in ``tests/support/`` and are imported from there.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.mysql_init import Names, mysql_init_applied
from support.paths import SAMPLE_CSV
from support.services import MARIADB_ADMIN_URL


@pytest.fixture(scope="session")
def sample_csv() -> Path:
    """The real 15,000-row UCI sample beside the repository (never copied into it)."""
    if not SAMPLE_CSV.is_file():
        pytest.fail(f"{SAMPLE_CSV} is missing: clone the project with ../shared beside it")
    return SAMPLE_CSV


@pytest.fixture
def mariadb_url() -> Iterator[str]:
    """A SQLAlchemy URL of a fresh MariaDB database, dropped after the test."""
    from sqlalchemy import create_engine, text

    name = f"covertype_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(MARIADB_ADMIN_URL)
    try:
        with admin.begin() as conn:
            conn.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    except Exception as exc:  # noqa: BLE001 - the reason is reported
        admin.dispose()
        pytest.fail(f"MariaDB on 127.0.0.1:3306 is not usable: {exc}")
    try:
        yield f"{MARIADB_ADMIN_URL}/{name}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()


@pytest.fixture
def initialised() -> Iterator[Names]:
    """mysql-init/ applied under unique names (the tricky password for the pipeline user)."""
    with mysql_init_applied() as names:
        yield names


#: MLflow's process-wide settings, which a test's fluent MLflow calls may change.
_MLFLOW_URI_VARIABLES = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")


@pytest.fixture(autouse=True)
def _restore_mlflow_process_uris() -> Iterator[None]:
    """Give MLflow's process-wide tracking and registry URIs back as they were before each test.

    Tests that load models with MLflow's fluent API set them; left behind, a later test's subprocesses
    inherit ``MLFLOW_TRACKING_URI`` and talk to another test's (stopped) store.
    """
    saved = {name: os.environ.get(name) for name in _MLFLOW_URI_VARIABLES}
    yield
    if "mlflow" in sys.modules:
        import mlflow

        mlflow.set_tracking_uri(saved["MLFLOW_TRACKING_URI"])
        mlflow.set_registry_uri(saved["MLFLOW_REGISTRY_URI"])
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
