"""Schema migrations (Alembic): ``covertype db upgrade`` as typed, on MariaDB made by init.sql and on SQLite.

The deployment to upgrade is the one that exists today: a database created by ``mysql-init/init.sql``
before ``batch_quality`` existed (this init.sql without that table), holding rows, without
``alembic_version``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pymysql
import pytest
from alembic import command
from sqlalchemy import Engine, create_engine, inspect
from sqlalchemy.engine import URL

from covertype.store.batches import RunStatus, insert_rows, record_run
from covertype.store.engine import create_store_engine
from covertype.store.migrate import alembic_config, head_revision
from covertype.store.quality import DriftStatus, batch_quality_rows
from covertype.store.tables import metadata
from support.mysql_init import (
    INIT_SQL,
    TRICKY_PASSWORD,
    Names,
    connect_as,
    mysql_init_applied,
    run_as_root,
    schema_of,
    statements,
)
from support.services import MARIADB_ADMIN_URL
from support.store import count_rows, sample_frame

COVERTYPE = str(Path(sys.executable).parent / "covertype")
#: The tables of the store before migrations existed.
BASELINE_TABLES = ("forest_cover_data", "ingestion_runs", "forest_cover_rejected", "predictions")


def db_upgrade(database_url: str, tmp_path: Path) -> dict[str, object]:
    """``covertype db upgrade --database-url URL`` in a subprocess; its JSON answer."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("COVERTYPE_", "MLFLOW_"))}
    result = subprocess.run(
        [COVERTYPE, "db", "upgrade", "--database-url", database_url],
        env={**clean, "COVERTYPE_DATA_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def fill_with_rows(database_url: str, sample_csv: Path) -> dict[str, int]:
    """Rows in two tables, as ingestion writes them (schema untouched); the count of every baseline table."""
    engine = create_store_engine(database_url, migrate=False)
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    with engine.begin() as connection:
        insert_rows(
            connection, sample_frame(sample_csv, 300), group_number=1, batch_number=1, ingested_at=now
        )
        record_run(
            connection,
            run_id="r1",
            group_number=1,
            batch_number=1,
            status=RunStatus.SUCCESS,
            started_at=now,
            finished_at=now,
            rows_inserted=300,
        )
    engine.dispose()
    return {table: count_rows(database_url, table) for table in BASELINE_TABLES}


def without_version_table(schema: dict[str, object]) -> dict[str, object]:
    return {table: described for table, described in schema.items() if table != "alembic_version"}


def assert_schema_is_the_metadatas(migrated: Engine, from_metadata: Engine) -> None:
    assert without_version_table(schema_of(migrated)) == schema_of(from_metadata)
    assert set(without_version_table(schema_of(migrated))) == set(metadata.tables)


# -- MariaDB ------------------------------------------------------------------------------------------------


def init_sql_before_batch_quality() -> str:
    """Today's deployments: init.sql as it was before ``batch_quality`` (every statement but that table's)."""
    return ";\n".join(s for s in statements(INIT_SQL.read_text()) if "batch_quality" not in s) + ";"


@pytest.fixture
def deployed_before() -> Iterator[Names]:
    with mysql_init_applied(init_sql=init_sql_before_batch_quality()) as names:
        yield names


def pipeline_user_url(names: Names) -> str:
    url = URL.create(
        "mysql+pymysql",
        username=names.covertype_user,
        password=TRICKY_PASSWORD,
        host="127.0.0.1",
        port=3306,
        database=names.covertype_db,
    )
    return url.render_as_string(hide_password=False)


@pytest.mark.mariadb
def test_upgrading_a_deployment_of_today_keeps_every_row_and_adds_batch_quality(
    deployed_before: Names, from_metadata: Engine, sample_csv: Path, tmp_path: Path
) -> None:
    root_url = f"{MARIADB_ADMIN_URL}/{deployed_before.covertype_db}"
    assert "batch_quality" not in inspect(create_engine(root_url)).get_table_names()
    counts = fill_with_rows(pipeline_user_url(deployed_before), sample_csv)
    assert counts["forest_cover_data"] == 300 and counts["ingestion_runs"] == 1

    first = db_upgrade(root_url, tmp_path)
    again = db_upgrade(root_url, tmp_path)

    assert first == {
        "database": root_url,
        "before": None,
        "stamped_baseline": True,
        "after": head_revision(),
    }
    assert again == {
        "database": root_url,
        "before": head_revision(),
        "stamped_baseline": False,
        "after": head_revision(),
    }
    assert {table: count_rows(root_url, table) for table in BASELINE_TABLES} == counts
    migrated = create_engine(root_url)
    assert_schema_is_the_metadatas(migrated, from_metadata)
    migrated.dispose()


@pytest.mark.mariadb
def test_after_the_upgrade_the_pipeline_user_writes_batch_quality_but_still_has_no_ddl(
    deployed_before: Names, tmp_path: Path
) -> None:
    db_upgrade(f"{MARIADB_ADMIN_URL}/{deployed_before.covertype_db}", tmp_path)
    with connect_as(
        deployed_before.covertype_user, TRICKY_PASSWORD, deployed_before.covertype_db
    ) as connection:
        cursor = connection.cursor()
        cursor.execute(
            "INSERT INTO batch_quality (group_number, batch_number, model_version, `rows`, accuracy,"
            " macro_f1, drift_score, drifted_features, class_recall, feature_psi, evaluated_at, drift_status)"
            " VALUES (1, 1, '1', 10, 0.9, 0.8, NULL, '[]', '{}', '{}', NOW(), 'not_enough_rows')"
        )
        cursor.execute("SELECT accuracy FROM batch_quality")
        assert cursor.fetchall() == ((0.9,),)
        for forbidden in (
            "ALTER TABLE batch_quality ADD COLUMN x INT",
            "DROP TABLE batch_quality",
            "CREATE TABLE sneaky (id INT)",
        ):
            with pytest.raises(pymysql.err.OperationalError, match=r"denied"):
                cursor.execute(forbidden)
        connection.commit()


@pytest.mark.mariadb
def test_a_new_deployment_whose_init_sql_has_every_table_is_stamped_and_left_as_is(
    from_metadata: Engine, tmp_path: Path
) -> None:
    with mysql_init_applied() as names:
        root_url = f"{MARIADB_ADMIN_URL}/{names.covertype_db}"
        result = db_upgrade(root_url, tmp_path)
        assert result["stamped_baseline"] is True and result["after"] == head_revision()
        migrated = create_engine(root_url)
        assert_schema_is_the_metadatas(migrated, from_metadata)
        migrated.dispose()


@pytest.mark.mariadb
def test_an_empty_database_gets_the_whole_schema_from_the_migrations(
    from_metadata: Engine, tmp_path: Path
) -> None:
    name = f"covertype_empty_{uuid.uuid4().hex[:10]}"
    run_as_root([f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"])
    try:
        db_upgrade(f"{MARIADB_ADMIN_URL}/{name}", tmp_path)
        migrated = create_engine(f"{MARIADB_ADMIN_URL}/{name}")
        assert_schema_is_the_metadatas(migrated, from_metadata)
        migrated.dispose()
    finally:
        run_as_root([f"DROP DATABASE IF EXISTS `{name}`"])


# -- SQLite -------------------------------------------------------------------------------------------------


def test_the_embedded_store_opens_migrated_to_the_metadatas_schema(tmp_path: Path) -> None:
    migrated = create_store_engine(f"sqlite:///{tmp_path / 'store.db'}")
    from_metadata = create_engine(f"sqlite:///{tmp_path / 'reference.db'}")
    metadata.create_all(from_metadata)
    assert_schema_is_the_metadatas(migrated, from_metadata)
    with migrated.connect() as connection:
        assert (
            connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == head_revision()
        )


def test_a_sqlite_store_of_today_is_stamped_and_upgraded_without_losing_a_row(
    tmp_path: Path, sample_csv: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    today = create_engine(url)
    metadata.create_all(today, tables=[metadata.tables[name] for name in BASELINE_TABLES])
    today.dispose()
    counts = fill_with_rows(url, sample_csv)

    first = db_upgrade(url, tmp_path)
    again = db_upgrade(url, tmp_path)

    assert (first["before"], first["stamped_baseline"], first["after"]) == (None, True, head_revision())
    assert (again["before"], again["stamped_baseline"]) == (head_revision(), False)
    assert {table: count_rows(url, table) for table in BASELINE_TABLES} == counts
    assert "batch_quality" in inspect(create_engine(url)).get_table_names()


# -- SQLite and MariaDB ------------------------------------------------------------------------------------


#: ``batch_quality`` rows as the fixed PSI threshold (0.2) judged them before revision 0003: a shifted batch,
#: a 60-row batch flagged by PSI noise, a batch scored by a version without a reference profile.
#: ``{rows}`` is the column ``rows``, quoted for the dialect (a reserved word on MariaDB).
ROWS_BEFORE_THE_DRIFT_VERDICT = (
    "INSERT INTO batch_quality (group_number, batch_number, model_version, {rows}, accuracy, macro_f1,"
    " drift_score, drifted_features, class_recall, feature_psi, evaluated_at) VALUES"
    " (1, 1, '1', 1500, 0.6, 0.5, 0.94, '[\"Elevation\"]', '{}', '{\"Elevation\": 0.94, \"Slope\": 0.03}',"
    " '2026-11-30 10:00:00'),"
    " (1, 2, '1', 60, 0.8, 0.7, 0.41, '[\"Aspect\"]', '{}', '{\"Aspect\": 0.41, \"Slope\": 0.1}',"
    " '2026-11-30 10:01:00'),"
    " (1, 3, '1', 1500, 0.8, 0.7, NULL, '[]', '{}', '{}', '2026-11-30 10:02:00')"
)


@pytest.fixture(params=["sqlite", pytest.param("mariadb", marks=pytest.mark.mariadb)])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database on each dialect the store runs on: an embedded SQLite file, a MariaDB database."""
    if request.param == "mariadb":
        return request.getfixturevalue("mariadb_url")
    return f"sqlite:///{tmp_path / 'store.db'}"


def test_the_drift_verdict_migration_converts_the_stored_rows_and_back(
    empty_database_url: str, tmp_path: Path
) -> None:
    """0003: no row keeps the fixed threshold's verdict, the PSI stays; a downgrade restores the old one."""
    engine = create_engine(empty_database_url)
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), "0002_batch_quality")
        rows_column = connection.dialect.identifier_preparer.quote_identifier("rows")
        connection.exec_driver_sql(ROWS_BEFORE_THE_DRIFT_VERDICT.replace("{rows}", rows_column))

    assert db_upgrade(empty_database_url, tmp_path)["after"] == head_revision()

    rows = {row.batch_number: row for row in batch_quality_rows(engine)}
    assert {
        number: (row.drift_status, row.drift_score, row.drifted_features) for number, row in rows.items()
    } == {
        1: (DriftStatus.UNJUDGED, None, []),
        2: (DriftStatus.NOT_ENOUGH_ROWS, None, []),
        3: (DriftStatus.NO_PROFILE, None, []),
    }
    assert rows[1].feature_psi == {"Elevation": 0.94, "Slope": 0.03} and rows[1].accuracy == 0.6

    with engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0002_batch_quality")
        restored = connection.exec_driver_sql(
            "SELECT batch_number, drift_score, drifted_features FROM batch_quality ORDER BY batch_number"
        ).all()
    assert [tuple(row) for row in restored] == [
        (1, 0.94, '["Elevation"]'),
        (2, 0.41, '["Aspect"]'),
        (3, None, "[]"),
    ]
    engine.dispose()
