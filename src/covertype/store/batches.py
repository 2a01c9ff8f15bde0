"""Writing polls into the store: new rows once (by ``row_hash``), rejected rows, one ``ingestion_runs`` row.

A poll without rows (all batches delivered, or a failure) writes only its run row.

Rows go in as multi-row ``INSERT IGNORE`` (MySQL) / ``INSERT OR IGNORE`` (SQLite) statements of a few
thousand rows. Their VALUES text is rendered column-wise by Arrow instead of being escaped value by value by
the driver (pymysql's ``executemany`` spends about 20 µs per row on that, more than the server needs to store
it). Rendering is safe by construction: integers come from integer arrays, the two categorical columns may
only hold the schema's codes (checked here), ``row_hash`` is hex and the constants are formatted here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection, Dialect, Engine, insert

from covertype.pause_points import BATCH_BEFORE_COMMIT, pause_point
from covertype.schema import CATEGORICAL_COLUMNS, COLUMNS, SOIL_TYPES, WILDERNESS_AREAS
from covertype.store.dialects import ignore_duplicates
from covertype.store.row_hash import row_hashes
from covertype.store.tables import RunStatus, forest_cover_data, forest_cover_rejected, ingestion_runs

#: Rows per INSERT statement: a few hundred kB of SQL, far below MySQL's default 16 MB packet limit.
DEFAULT_CHUNK_ROWS = 5_000

#: Longest payload or reason kept for a rejected row (a TEXT column holds 64 kB).
_MAX_TEXT = 4_000

_DOMAINS = {"Wilderness_Area": frozenset(WILDERNESS_AREAS), "Soil_Type": frozenset(SOIL_TYPES)}


@dataclass(frozen=True)
class RejectedRow:
    """A received row that failed validation: its 1-based place in the batch, its JSON text, why."""

    row_number: int
    payload: str
    reason: str


@dataclass(frozen=True)
class StoredBatch:
    """What storing one poll changed."""

    inserted: int
    duplicates: int
    rejected: int


def utc_now() -> datetime:
    """Naive UTC, whole seconds: what a MySQL ``DATETIME`` and SQLite both keep unchanged."""
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def store_batch(
    engine: Engine,
    rows: pd.DataFrame,
    *,
    rejected: Sequence[RejectedRow],
    run_id: str,
    group_number: int,
    batch_number: int,
    received: int,
    started_at: datetime,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> StoredBatch:
    """Store one poll atomically: its new valid rows, its rejected rows and its ``success`` run row.

    Idempotent: rows (and rejections) already stored are skipped by their hash, so storing the same poll
    twice adds only a second run row. On any error nothing of the poll remains.
    """
    now = utc_now()
    with engine.begin() as connection:
        inserted = insert_rows(
            connection,
            rows,
            group_number=group_number,
            batch_number=batch_number,
            ingested_at=now,
            chunk_rows=chunk_rows,
        )
        insert_rejected(
            connection,
            rejected,
            run_id=run_id,
            group_number=group_number,
            batch_number=batch_number,
            rejected_at=now,
        )
        stored = StoredBatch(inserted=inserted, duplicates=len(rows) - inserted, rejected=len(rejected))
        record_run(
            connection,
            run_id=run_id,
            group_number=group_number,
            batch_number=batch_number,
            status=RunStatus.SUCCESS,
            started_at=started_at,
            finished_at=now,
            rows_received=received,
            rows_inserted=stored.inserted,
            duplicates=stored.duplicates,
            rejected=stored.rejected,
        )
        pause_point(BATCH_BEFORE_COMMIT)
    return stored


def insert_rows(
    connection: Connection,
    rows: pd.DataFrame,
    *,
    group_number: int,
    batch_number: int,
    ingested_at: datetime,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> int:
    """Insert the canonical ``rows`` whose ``row_hash`` is not stored yet; returns how many were new.

    Runs inside the caller's transaction. Duplicates within ``rows`` are stored once too.
    """
    if rows.empty:
        return 0
    _check_domains(rows)
    head = _insert_head(connection.dialect)
    ingested_sql = _timestamp_sql(connection.dialect, ingested_at)

    def statement(chunk: pd.DataFrame) -> str:
        values = _values_text(
            chunk, group_number=group_number, batch_number=batch_number, ingested_at=ingested_sql
        )
        return head + ",".join(values)

    chunks = (rows.iloc[start : start + chunk_rows] for start in range(0, len(rows), chunk_rows))
    inserted = 0
    # One thread renders the next statement while the server stores the current one.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="render-insert") as renderer:
        for sql in renderer.map(statement, chunks):
            inserted += connection.exec_driver_sql(sql, execution_options={"no_parameters": True}).rowcount
    return inserted


def insert_rejected(
    connection: Connection,
    rejected: Sequence[RejectedRow],
    *,
    run_id: str,
    group_number: int,
    batch_number: int | None,
    rejected_at: datetime,
) -> int:
    """Record rows that failed validation with their reasons; a rejection already recorded is skipped."""
    if not rejected:
        return 0
    statement = insert(forest_cover_rejected).prefix_with(ignore_duplicates(connection.dialect))
    result = connection.execute(
        statement,
        [
            {
                "run_id": run_id,
                "group_number": group_number,
                "batch_number": batch_number,
                "row_number": row.row_number,
                "payload": row.payload[:_MAX_TEXT],
                "reason": row.reason[:_MAX_TEXT],
                "row_hash": hashlib.md5(row.payload.encode(), usedforsecurity=False).hexdigest(),
                "rejected_at": rejected_at,
            }
            for row in rejected
        ],
    )
    return result.rowcount


def record_run(
    connection: Connection,
    *,
    run_id: str,
    group_number: int,
    batch_number: int | None,
    status: RunStatus,
    started_at: datetime,
    finished_at: datetime,
    rows_received: int = 0,
    rows_inserted: int = 0,
    duplicates: int = 0,
    rejected: int = 0,
    error: str | None = None,
) -> None:
    """Write the ``ingestion_runs`` row of one poll."""
    connection.execute(
        insert(ingestion_runs).values(
            run_id=run_id,
            group_number=group_number,
            batch_number=batch_number,
            status=str(status),
            started_at=started_at,
            finished_at=finished_at,
            rows_received=rows_received,
            rows_inserted=rows_inserted,
            duplicates=duplicates,
            rejected=rejected,
            error=error[:_MAX_TEXT] if error else None,
        )
    )


def record_exhausted(
    engine: Engine, *, run_id: str, group_number: int, started_at: datetime, detail: str
) -> None:
    """Log a poll that found every batch of the group delivered (an ``exhausted`` run row, no batch)."""
    _record_empty_poll(
        engine,
        run_id=run_id,
        group_number=group_number,
        batch_number=None,
        status=RunStatus.EXHAUSTED,
        started_at=started_at,
        error=detail,
    )


def record_failure(
    engine: Engine,
    *,
    run_id: str,
    group_number: int,
    batch_number: int | None,
    started_at: datetime,
    error: str,
) -> None:
    """Log a poll, or a retried attempt of one, that stored nothing because the data API or the store failed
    (a ``failed`` run row)."""
    _record_empty_poll(
        engine,
        run_id=run_id,
        group_number=group_number,
        batch_number=batch_number,
        status=RunStatus.FAILED,
        started_at=started_at,
        error=error,
    )


def _record_empty_poll(
    engine: Engine,
    *,
    run_id: str,
    group_number: int,
    batch_number: int | None,
    status: RunStatus,
    started_at: datetime,
    error: str,
) -> None:
    with engine.begin() as connection:
        record_run(
            connection,
            run_id=run_id,
            group_number=group_number,
            batch_number=batch_number,
            status=status,
            started_at=started_at,
            finished_at=utc_now(),
            error=error,
        )


def _insert_head(dialect: Dialect) -> str:
    preparer = dialect.identifier_preparer
    names = ", ".join(
        preparer.quote(name) for name in [*COLUMNS, "group_number", "batch_number", "ingested_at", "row_hash"]
    )
    table = preparer.format_table(forest_cover_data)
    return f"INSERT {ignore_duplicates(dialect)} INTO {table} ({names}) VALUES "


def _check_domains(rows: pd.DataFrame) -> None:
    for column in CATEGORICAL_COLUMNS:
        unknown = set(rows[column].unique()) - _DOMAINS[column]
        if unknown:
            raise ValueError(f"{column} {sorted(map(str, unknown))[0]!r} is not one of the schema's codes")


def _timestamp_sql(dialect: Dialect, value: datetime) -> str:
    """``value`` quoted as the driver would bind it (SQLite keeps the microseconds' digits in the text)."""
    bind = forest_cover_data.c.ingested_at.type.bind_processor(dialect)
    return f"'{bind(value) if bind else f'{value:%Y-%m-%d %H:%M:%S}'}'"


def _values_text(rows: pd.DataFrame, *, group_number: int, batch_number: int, ingested_at: str) -> list[str]:
    """``(v1,...,v13,group,batch,ingested_at,'row_hash')`` for every row, rendered column-wise."""
    parts: list[pa.Array] = []
    for column in COLUMNS:
        if column in CATEGORICAL_COLUMNS:
            text = pa.array(rows[column].to_numpy(dtype=object), type=pa.string())
            parts.append(pc.binary_join_element_wise("'", text, "'", ""))
        else:
            parts.append(pc.cast(pa.array(rows[column].to_numpy().astype("int64")), pa.string()))
    constants = f"{int(group_number)},{int(batch_number)},{ingested_at},'"
    hashes = pa.array(row_hashes(rows), type=pa.string())
    parts.append(pc.binary_join_element_wise(constants, hashes, "'", ""))
    joined = pc.binary_join_element_wise(*parts, ",")
    values: list[str] = pc.binary_join_element_wise("(", joined, ")", "").to_pylist()
    return values
