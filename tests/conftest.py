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
from sqlalchemy import Engine, create_engine

from covertype.settings import Settings
from covertype.store.tables import metadata
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
def from_metadata(mariadb_url: str) -> Iterator[Engine]:
    """A throw-away MariaDB database whose tables SQLAlchemy created from the store's metadata."""
    engine = create_engine(mariadb_url)
    metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def initialised() -> Iterator[Names]:
    """mysql-init/ applied under unique names (the tricky password for the pipeline user)."""
    with mysql_init_applied() as names:
        yield names


#: The variables ``Settings`` reads, and MLflow's registry URI: any of them left in the environment would
#: send code under test to another store or server than the test's own. (The suite's own switches, such as
#: ``COVERTYPE_SCREENSHOT_DIR``, are not settings and stay.)
_SETTINGS_VARIABLES = frozenset(
    {Settings.variable(name).upper() for name in Settings.model_fields} | {"MLFLOW_REGISTRY_URI"}
)


def _drop_settings_variables() -> None:
    for name in [name for name in os.environ if name.upper() in _SETTINGS_VARIABLES]:
        del os.environ[name]


def pytest_configure(config: pytest.Config) -> None:
    """Start from an environment without the shell's settings and MLflow URIs.

    Every test names its own store, server and settings; one left in the shell (or by an earlier test)
    would otherwise reach ``Settings()`` and every child process the test starts.
    """
    _drop_settings_variables()


@pytest.fixture(autouse=True)
def _hermetic_environment() -> Iterator[None]:
    """After each test, MLflow's process-wide URIs and the environment are as the session started.

    Tests that load models with MLflow's fluent API set the URIs (``MLFLOW_TRACKING_URI`` among them),
    also from module-scoped fixtures; left behind, a later test's ``Settings()`` and subprocesses would
    talk to that test's store. Restoring to the session's start, not to the test's, ends such a leak
    after the first test that saw it.
    """
    yield
    if "mlflow" in sys.modules:
        import mlflow

        mlflow.set_tracking_uri(None)
        mlflow.set_registry_uri(None)
    _drop_settings_variables()
