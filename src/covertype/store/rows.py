"""Reading the stored forest-cover rows: all of them for a training snapshot, or one at random."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, select

from covertype.schema import CATEGORICAL_COLUMNS, COLUMNS, NUMERIC_COLUMNS, TARGET_COLUMN
from covertype.store.reads import count_stored_rows
from covertype.store.tables import forest_cover_data

#: Rows fetched per round trip when reading the store (server-side cursor where the driver has one).
READ_CHUNK_ROWS = 100_000

#: What :func:`read_stored_rows` returns: the 13 canonical columns and the row's identity.
STORED_ROW_COLUMNS: tuple[str, ...] = (*COLUMNS, "row_hash")


def read_stored_rows(engine: Engine) -> pd.DataFrame:
    """Every stored row with compact dtypes, read in chunks, duplicates (same 13 values) dropped."""
    table = forest_cover_data
    query = select(*(table.c[name] for name in STORED_ROW_COLUMNS)).order_by(table.c.id)
    with engine.connect().execution_options(stream_results=True) as conn:
        chunks = [_compact(chunk) for chunk in pd.read_sql(query, conn, chunksize=READ_CHUNK_ROWS)]
    frame = (
        pd.concat(chunks, ignore_index=True) if chunks else _compact(pd.DataFrame(columns=STORED_ROW_COLUMNS))
    )
    return frame.drop_duplicates(subset=list(COLUMNS), keep="first")


def _compact(chunk: pd.DataFrame) -> pd.DataFrame:
    chunk = chunk.astype({name: np.int32 for name in NUMERIC_COLUMNS} | {TARGET_COLUMN: np.int8})
    return chunk.astype({name: str for name in (*CATEGORICAL_COLUMNS, "row_hash")})


def random_stored_row(engine: Engine) -> dict[str, Any] | None:
    """One stored row (13 canonical columns) picked at random, or None when the store is empty."""
    count = count_stored_rows(engine)
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
