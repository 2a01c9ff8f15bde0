"""Reading the poll log (``ingestion_runs``, ``forest_cover_rejected``) for the UI's Pipeline page."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Engine, select

from covertype.store.tables import RunStatus, forest_cover_rejected, ingestion_runs

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

_REJECTED_COLUMNS = (
    "rejected_at",
    "group_number",
    "batch_number",
    "row_number",
    "reason",
    "payload",
    "run_id",
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
        select(*(table.c[name] for name in _REJECTED_COLUMNS))
        .order_by(table.c.rejected_at.desc(), table.c.id.desc())
        .limit(limit)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
    return pd.DataFrame(rows, columns=list(_REJECTED_COLUMNS))
