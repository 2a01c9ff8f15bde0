"""Engines for the store: pymysql for MySQL/MariaDB, SQLite (WAL, schema migrated) as the embedded default."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url

from covertype.settings import Settings

#: The store's handle, named here so that callers need not import SQLAlchemy.
__all__ = ["Engine", "create_store_engine", "store_engine", "store_location"]

#: MySQL URLs without a driver would pick mysqlclient (a C build we do not ship); pymysql is the driver.
_PURE_PYTHON_DRIVERS = {"mysql": "mysql+pymysql", "mariadb": "mariadb+pymysql"}


def create_store_engine(database_url: str | URL, *, migrate: bool = True) -> Engine:
    """An engine for ``database_url``; for SQLite also the file's folder, WAL mode and, unless ``migrate``
    is False (``covertype db upgrade`` migrates itself), the schema brought to the newest revision.

    MySQL tables come from ``mysql-init/init.sql`` and ``covertype db upgrade`` (the pipeline user may not
    create tables), so they are never created here.
    """
    url = make_url(database_url)
    if url.drivername in _PURE_PYTHON_DRIVERS:
        url = url.set(drivername=_PURE_PYTHON_DRIVERS[url.drivername])
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url, migrate=migrate)
    return create_engine(url, pool_pre_ping=True, pool_recycle=3600)


def store_engine(settings: Settings) -> Engine:
    """The engine of the configured store (``COVERTYPE_DATABASE_URL`` or the local SQLite file)."""
    return create_store_engine(settings.database)


def store_location(database_url: str | URL) -> str:
    """The store's URL without its password, for messages."""
    return make_url(database_url).render_as_string(hide_password=True)


def _sqlite_engine(url: URL, *, migrate: bool) -> Engine:
    if url.database and url.database != ":memory:":
        Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 30})
    event.listen(engine, "connect", _sqlite_pragmas)
    if migrate:
        # Imported here: only SQLite stores are migrated on open (MySQL by `covertype db upgrade`).
        from covertype.store.migrate import upgrade_schema

        upgrade_schema(engine)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets the inference API read while ingestion writes; NORMAL sync is safe under WAL."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
