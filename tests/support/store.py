"""Helpers of the store and ingestion tests: a store on SQLite and on MariaDB, sample batches, counts."""

from __future__ import annotations

from pathlib import Path

import httpx
import orjson
import pandas as pd
import pytest
from sqlalchemy import create_engine, func, select

from covertype.dataset import load_dataset
from covertype.schema import COLUMNS
from covertype.store.tables import metadata

#: Parameters of a ``store_url`` fixture: every test of the store runs on SQLite and on MariaDB.
STORES = ["sqlite", pytest.param("mariadb", marks=pytest.mark.mariadb)]


def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A store with the project's tables: a SQLite file, or a throw-away MariaDB database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    url: str = request.getfixturevalue("mariadb_url")
    engine = create_engine(url)
    metadata.create_all(engine)
    engine.dispose()
    return url


def sample_frame(sample_csv: Path, rows: int) -> pd.DataFrame:
    return load_dataset(sample_csv).head(rows)


def batch_rows(frame: pd.DataFrame) -> list[list[object]]:
    """The frame as ``GET /data`` sends it: JSON numbers and strings, one list per row."""
    return orjson.loads(orjson.dumps(frame.astype(object).to_numpy().tolist()))


def data_api_answer(rows: list[list[object]], *, batch_number: int = 1, group_number: int = 1) -> bytes:
    return orjson.dumps(
        {"group_number": group_number, "batch_number": batch_number, "columns": list(COLUMNS), "data": rows}
    )


def fixed_client(status: int, body: bytes) -> httpx.Client:
    """An HTTP client whose every request gets the same answer."""
    transport = httpx.MockTransport(lambda request: httpx.Response(status, content=body))
    return httpx.Client(base_url="http://data-api.test", transport=transport)


def count_rows(url: str, table: str, **where: object) -> int:
    engine = create_engine(url)
    try:
        target = metadata.tables[table]
        query = select(func.count()).select_from(target)
        for column, value in where.items():
            query = query.where(target.c[column] == value)
        with engine.connect() as connection:
            return int(connection.execute(query).scalar_one())
    finally:
        engine.dispose()
