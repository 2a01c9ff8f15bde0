"""``mysql-init/`` on the real MariaDB: tables that match the metadata, users with only their rights."""

from __future__ import annotations

import re
import subprocess
import uuid

import pymysql
import pytest
from sqlalchemy import Engine, create_engine

from covertype.store.tables import metadata
from support.mysql_init import (
    INIT_SQL,
    PASSWORDS_SH,
    TRICKY_PASSWORD,
    Names,
    connect_as,
    drop_applied,
    run_as_root,
    schema_of,
    statements,
)
from support.services import MARIADB_ADMIN_URL

pytestmark = pytest.mark.mariadb


def test_init_sql_tables_match_the_metadata(initialised: Names, from_metadata: Engine) -> None:
    applied = create_engine(f"{MARIADB_ADMIN_URL}/{initialised.covertype_db}")
    try:
        assert schema_of(applied) == schema_of(from_metadata)
    finally:
        applied.dispose()
    assert set(schema_of(from_metadata)) == set(metadata.tables)


def test_the_pipeline_user_reads_and_writes_rows_but_cannot_drop_or_create(initialised: Names) -> None:
    with connect_as(initialised.covertype_user, TRICKY_PASSWORD, initialised.covertype_db) as connection:
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
    with connect_as(initialised.mlflow_user, "mlflow-pw", initialised.mlflow_db) as connection:
        cursor = connection.cursor()
        cursor.execute("CREATE TABLE alembic_probe (id INT PRIMARY KEY)")
        cursor.execute("DROP TABLE alembic_probe")
        with pytest.raises(pymysql.err.OperationalError, match=r"denied"):
            cursor.execute(f"SELECT COUNT(*) FROM `{initialised.covertype_db}`.forest_cover_data")


def test_accounts_stay_locked_until_passwords_sh_runs() -> None:
    tag = uuid.uuid4().hex[:8]
    names = Names(f"covertype_lock_{tag}", f"mlflow_lock_{tag}", f"ctl_{tag}", f"mfl_{tag}")
    try:
        run_as_root(statements(names.apply(INIT_SQL.read_text())))
        with pytest.raises(pymysql.err.OperationalError, match=r"(?i)locked|denied"):
            connect_as(names.covertype_user, "", names.covertype_db)
    finally:
        drop_applied(names)


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
