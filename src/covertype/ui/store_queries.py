"""Read-only queries of the store for the Pipeline page and the Predict page's example row."""

from __future__ import annotations

import random
from typing import Any

import pandas as pd
from sqlalchemy import Engine, func, select

from covertype.schema import COLUMNS
from covertype.store.batches import RunStatus
from covertype.store.tables import forest_cover_data, forest_cover_rejected, ingestion_runs

_RUN_COLUMNS = (
    "started_at",
    "group_number",
    "batch_number",
    "status",
    "rows_received",
    "rows_inserted",
    "duplicates",
    "rejected",
    "finished_at",
    "run_id",
    "error",
)


def recent_ingestion_runs(engine: Engine, *, limit: int = 500) -> pd.DataFrame:
    """The latest polls (newest first): rows received, stored, duplicates and rejected per run, and the
    ``outcome`` an operator reads (see :func:`ingestion_outcome`): failed and skipped polls included."""
    query = (
        select(*(ingestion_runs.c[name] for name in _RUN_COLUMNS))
        .order_by(ingestion_runs.c.started_at.desc(), ingestion_runs.c.id.desc())
        .limit(limit)
    )
    with engine.connect() as conn:
        runs = pd.DataFrame(conn.execute(query).mappings().all(), columns=list(_RUN_COLUMNS))
    runs.insert(
        3,
        "outcome",
        [ingestion_outcome(s, n) for s, n in zip(runs["status"], runs["rows_inserted"], strict=True)],
    )
    return runs.drop(columns="status")


def ingestion_outcome(status: str, rows_inserted: int | None) -> str:
    """What a poll came to, in the words of the ingest DAG: stored, skipped (and why) or failed."""
    if status == RunStatus.FAILED:
        return "failed"
    if status == RunStatus.EXHAUSTED:
        return "skipped: all batches delivered"
    return "stored" if rows_inserted else "skipped: no new rows"


def recent_rejected_rows(engine: Engine, *, limit: int = 200) -> pd.DataFrame:
    """The latest rows that failed validation, with the reason and the row as received."""
    table = forest_cover_rejected
    query = (
        select(
            table.c.rejected_at,
            table.c.group_number,
            table.c.batch_number,
            table.c.row_number,
            table.c.reason,
            table.c.payload,
            table.c.run_id,
        )
        .order_by(table.c.rejected_at.desc(), table.c.id.desc())
        .limit(limit)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
    return pd.DataFrame(
        rows,
        columns=["rejected_at", "group_number", "batch_number", "row_number", "reason", "payload", "run_id"],
    )


def stored_row_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(forest_cover_data)).scalar_one())


def random_stored_row(engine: Engine) -> dict[str, Any] | None:
    """One stored row (13 canonical columns) picked at random, or None when the store is empty."""
    count = stored_row_count(engine)
    if count == 0:
        return None
    # An offset rather than ORDER BY RAND()/random(): portable across MySQL and SQLite, and no full sort.
    query = (
        select(*(forest_cover_data.c[name] for name in COLUMNS))
        .order_by(forest_cover_data.c.id)
        .offset(random.randrange(count))
        .limit(1)
    )
    with engine.connect() as conn:
        row = conn.execute(query).mappings().first()
    return None if row is None else dict(row)
