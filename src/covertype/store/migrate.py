"""Schema migrations of the store with Alembic, SQLAlchemy's migration tool (``covertype db upgrade``).

The revisions live in the package (:mod:`covertype.store.migrations`), found through its resources, so an
installed wheel migrates like a checkout. A database that holds the baseline's tables but no
``alembic_version`` (made by ``mysql-init/init.sql`` or by ``create_all`` before migrations existed) is
stamped at the baseline first, then upgraded: no row is touched.

MySQL is migrated by a privileged one-shot step (``COVERTYPE_MIGRATION_DATABASE_URL``: the compose init
job runs it as root), since the pipeline user has no DDL rights. The embedded SQLite store is upgraded
whenever an engine opens it (:func:`covertype.store.engine.create_store_engine`).
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect

#: The revision equal to the schema ``mysql-init/init.sql`` created before migrations existed.
BASELINE = "0001_baseline"
#: A table of the baseline: its presence without ``alembic_version`` marks a database made before.
_BASELINE_TABLE = "forest_cover_data"


@dataclass(frozen=True)
class UpgradeResult:
    """The revision before (None: none recorded), whether the baseline was stamped, the revision after."""

    before: str | None
    stamped: bool
    after: str | None

    def to_dict(self) -> dict[str, object]:
        return {"before": self.before, "stamped_baseline": self.stamped, "after": self.after}


def alembic_config(connection: Connection | None = None) -> Config:
    """The configuration of the packaged migrations, bound to ``connection`` when given."""
    config = Config()
    config.set_main_option("script_location", "covertype.store:migrations")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision of the packaged migrations."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "the store's migrations have no revision"
    return head


def current_revision(connection: Connection) -> str | None:
    """The revision recorded in the database, None when it has no ``alembic_version``."""
    return MigrationContext.configure(connection).get_current_revision()


def upgrade_schema(engine: Engine) -> UpgradeResult:
    """Bring the store at ``engine`` to the newest revision (see the module docstring); idempotent."""
    with _migration_lock(engine), engine.begin() as connection:
        before = current_revision(connection)
        config = alembic_config(connection)
        stamped = before is None and inspect(connection).has_table(_BASELINE_TABLE)
        if stamped:
            command.stamp(config, BASELINE)
        if before != head_revision():
            command.upgrade(config, "head")
        return UpgradeResult(before=before, stamped=stamped, after=current_revision(connection))


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    """One migrating process at a time for a SQLite file (``covertype up`` opens it from several at once).

    A server database needs none: migrations run from one one-shot job.
    """
    database = engine.url.database
    if engine.url.get_backend_name() != "sqlite" or not database or database == ":memory:":
        yield
        return
    with Path(f"{database}.migrate-lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
