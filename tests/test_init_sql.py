"""``mysql-init/`` on the real MariaDB: tables that match the metadata, users with only their rights."""

from __future__ import annotations

import re
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pymysql
import pytest
from conftest import MARIADB_ADMIN_URL, REPO_ROOT
from sqlalchemy import Engine, create_engine, inspect

from covertype.store.tables import metadata

pytestmark = pytest.mark.mariadb

INIT_SQL = REPO_ROOT / "mysql-init" / "init.sql"
PASSWORDS_SH = REPO_ROOT / "mysql-init" / "passwords.sh"
#: Quotes and a backslash: the password script must pass any password through intact.
TRICKY_PASSWORD = 'it\'s a \\ test "pw"'


@dataclass(frozen=True)
class Names:
    """Unique stand-ins for the databases and users that init.sql names, so tests never touch real ones."""

    covertype_db: str
    mlflow_db: str
    covertype_user: str
    mlflow_user: str

    def apply(self, sql: str) -> str:
        sql = sql.replace("`covertype`", f"`{self.covertype_db}`").replace("`mlflow`", f"`{self.mlflow_db}`")
        return sql.replace("'covertype'@", f"'{self.covertype_user}'@").replace(
            "'mlflow'@", f"'{self.mlflow_user}'@"
        )


def _statements(sql: str) -> list[str]:
    without_comments = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
    return [statement.strip() for statement in without_comments.split(";") if statement.strip()]


def _run_as_root(statements: list[str]) -> None:
    with pymysql.connect(host="127.0.0.1", port=3306, user="root", autocommit=True) as connection:
        cursor = connection.cursor()
        for statement in statements:
            cursor.execute(statement)


def _password_sql(covertype_password: str = TRICKY_PASSWORD, mlflow_password: str = "mlflow-pw") -> str:
    """The SQL passwords.sh hands to the MySQL image's docker_process_sql."""
    script = f'docker_process_sql() {{ cat; }}; source "{PASSWORDS_SH}"'
    env = {
        "MYSQL_COVERTYPE_PASSWORD": covertype_password,
        "MYSQL_MLFLOW_PASSWORD": mlflow_password,
        "PATH": "/usr/bin:/bin",
    }
    return subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, check=True).stdout


@contextmanager
def mysql_init_applied(
    covertype_password: str = TRICKY_PASSWORD, mlflow_password: str = "mlflow-pw"
) -> Iterator[Names]:
    """init.sql then passwords.sh applied to the real server under unique names; everything dropped after."""
    tag = uuid.uuid4().hex[:8]
    names = Names(f"covertype_init_{tag}", f"mlflow_init_{tag}", f"ct_{tag}", f"mf_{tag}")
    try:
        _run_as_root(_statements(names.apply(INIT_SQL.read_text())))
        _run_as_root(_statements(names.apply(_password_sql(covertype_password, mlflow_password))))
        yield names
    finally:
        _run_as_root(
            [
                f"DROP DATABASE IF EXISTS `{names.covertype_db}`",
                f"DROP DATABASE IF EXISTS `{names.mlflow_db}`",
                f"DROP USER IF EXISTS '{names.covertype_user}'@'%'",
                f"DROP USER IF EXISTS '{names.mlflow_user}'@'%'",
            ]
        )


@pytest.fixture
def initialised() -> Iterator[Names]:
    """mysql-init/ applied under unique names (the tricky password for the pipeline user)."""
    with mysql_init_applied() as names:
        yield names


@pytest.fixture
def from_metadata(mariadb_url: str) -> Iterator[Engine]:
    """A database whose tables SQLAlchemy created from the metadata."""
    engine = create_engine(mariadb_url)
    metadata.create_all(engine)
    yield engine
    engine.dispose()


def _schema(engine: Engine) -> dict[str, object]:
    """Every table's columns (name, type, nullability), primary key, unique keys and indexes."""
    inspector = inspect(engine)
    described: dict[str, object] = {}
    for table in sorted(inspector.get_table_names()):
        described[table] = {
            "columns": [
                (c["name"], c["type"].compile(engine.dialect), c["nullable"], c.get("autoincrement"))
                for c in inspector.get_columns(table)
            ],
            "primary_key": inspector.get_pk_constraint(table)["constrained_columns"],
            "unique": sorted(
                (u["name"], tuple(u["column_names"])) for u in inspector.get_unique_constraints(table)
            ),
            "indexes": sorted(
                (i["name"], tuple(i["column_names"]), bool(i["unique"])) for i in inspector.get_indexes(table)
            ),
        }
    return described


def test_init_sql_tables_match_the_metadata(initialised: Names, from_metadata: Engine) -> None:
    applied = create_engine(f"{MARIADB_ADMIN_URL}/{initialised.covertype_db}")
    try:
        assert _schema(applied) == _schema(from_metadata)
    finally:
        applied.dispose()
    assert set(_schema(from_metadata)) == set(metadata.tables)


def _connect(user: str, password: str, database: str) -> pymysql.Connection:
    return pymysql.connect(host="127.0.0.1", port=3306, user=user, password=password, database=database)


def test_the_pipeline_user_reads_and_writes_rows_but_cannot_drop_or_create(initialised: Names) -> None:
    with _connect(initialised.covertype_user, TRICKY_PASSWORD, initialised.covertype_db) as connection:
        cursor = connection.cursor()
        cursor.execute(
            "INSERT INTO ingestion_runs (run_id, group_number, rows_received, rows_inserted, duplicates,"
            " rejected, status, started_at) VALUES ('r', 1, 0, 0, 0, 0, 'success', NOW())"
        )
        cursor.execute("UPDATE ingestion_runs SET status = 'failed'")
        cursor.execute("SELECT status FROM ingestion_runs")
        assert cursor.fetchall() == (("failed",),)
        cursor.execute("DELETE FROM ingestion_runs")
        for forbidden in (
            "DROP TABLE forest_cover_data",
            "TRUNCATE TABLE forest_cover_data",
            "ALTER TABLE forest_cover_data ADD COLUMN x INT",
            "CREATE TABLE sneaky (id INT)",
            f"DROP DATABASE `{initialised.covertype_db}`",
            f"SELECT * FROM `{initialised.mlflow_db}`.information_schema_probe",
        ):
            with pytest.raises(pymysql.err.OperationalError, match=r"denied"):
                cursor.execute(forbidden)


def test_the_mlflow_user_owns_its_database_only(initialised: Names) -> None:
    with _connect(initialised.mlflow_user, "mlflow-pw", initialised.mlflow_db) as connection:
        cursor = connection.cursor()
        cursor.execute("CREATE TABLE alembic_probe (id INT PRIMARY KEY)")
        cursor.execute("DROP TABLE alembic_probe")
        with pytest.raises(pymysql.err.OperationalError, match=r"denied"):
            cursor.execute(f"SELECT COUNT(*) FROM `{initialised.covertype_db}`.forest_cover_data")


def test_accounts_stay_locked_until_passwords_sh_runs() -> None:
    tag = uuid.uuid4().hex[:8]
    names = Names(f"covertype_lock_{tag}", f"mlflow_lock_{tag}", f"ctl_{tag}", f"mfl_{tag}")
    try:
        _run_as_root(_statements(names.apply(INIT_SQL.read_text())))
        with pytest.raises(pymysql.err.OperationalError, match=r"(?i)locked|denied"):
            _connect(names.covertype_user, "", names.covertype_db)
    finally:
        _run_as_root(
            [
                f"DROP DATABASE IF EXISTS `{names.covertype_db}`",
                f"DROP DATABASE IF EXISTS `{names.mlflow_db}`",
                f"DROP USER IF EXISTS '{names.covertype_user}'@'%'",
                f"DROP USER IF EXISTS '{names.mlflow_user}'@'%'",
            ]
        )


def test_passwords_sh_refuses_to_run_without_the_passwords() -> None:
    result = subprocess.run(
        ["bash", "-c", f'docker_process_sql() {{ cat; }}; source "{PASSWORDS_SH}"'],
        env={"MYSQL_MLFLOW_PASSWORD": "x", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "MYSQL_COVERTYPE_PASSWORD is not set" in result.stderr
    assert re.search(r"ALTER USER", result.stdout) is None
