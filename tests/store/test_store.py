"""The store: engines, table creation, row hashes, and multi-row inserts that store each row once."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import create_engine, inspect, select, text

from covertype.schema import COLUMNS
from covertype.store.batches import insert_rows, utc_now
from covertype.store.engine import create_store_engine
from covertype.store.row_hash import row_hash, row_hashes
from covertype.store.tables import forest_cover_data, metadata
from support.store import STORES, make_store, sample_frame


@pytest.fixture(params=STORES)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return make_store(request, tmp_path)


def test_sqlite_store_gets_its_folder_its_tables_and_wal(tmp_path: Path) -> None:
    engine = create_store_engine(f"sqlite:///{tmp_path / 'nested' / 'store.db'}")
    try:
        assert set(inspect(engine).get_table_names()) == {*metadata.tables, "alembic_version"}
        with engine.connect() as connection:
            assert connection.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
    finally:
        engine.dispose()


@pytest.mark.parametrize("scheme", ["mysql", "mariadb", "mysql+pymysql"])
def test_mysql_urls_use_pymysql(scheme: str) -> None:
    engine = create_store_engine(f"{scheme}://user:secret@127.0.0.1:3306/covertype")
    assert engine.dialect.driver == "pymysql"


def test_row_hash_is_md5_of_the_comma_joined_canonical_values(sample_csv: Path) -> None:
    frame = sample_frame(sample_csv, 200)
    first = frame.iloc[0].tolist()
    expected = hashlib.md5(",".join(str(value) for value in first).encode()).hexdigest()
    assert row_hash(first) == expected
    assert row_hashes(frame) == [row_hash(row) for row in frame.itertuples(index=False)]
    assert len(set(row_hashes(frame))) == len(frame)


def _stored(url: str) -> pd.DataFrame:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            query = select(*(forest_cover_data.c[name] for name in (*COLUMNS, "row_hash"))).order_by(
                forest_cover_data.c.id
            )
            return pd.DataFrame(connection.execute(query).all(), columns=[*COLUMNS, "row_hash"])
    finally:
        engine.dispose()


def test_rows_are_stored_exactly_and_once(store_url: str, sample_csv: Path) -> None:
    frame = sample_frame(sample_csv, 300)
    with_repeats = pd.concat([frame, frame.head(20)], ignore_index=True)
    engine = create_store_engine(store_url)
    try:
        with engine.begin() as connection:
            first = insert_rows(
                connection, with_repeats, group_number=2, batch_number=3, ingested_at=utc_now(), chunk_rows=64
            )
        with engine.begin() as connection:
            again = insert_rows(connection, frame, group_number=2, batch_number=4, ingested_at=utc_now())
    finally:
        engine.dispose()

    assert (first, again) == (300, 0)
    stored = _stored(store_url)
    expected = frame.astype(object).assign(row_hash=row_hashes(frame))
    pd.testing.assert_frame_equal(stored.astype(object), expected, check_dtype=False)


def test_codes_outside_the_schema_never_reach_the_sql(tmp_path: Path, sample_csv: Path) -> None:
    frame = sample_frame(sample_csv, 5)
    frame.loc[2, "Soil_Type"] = "C1'); DROP TABLE forest_cover_data; --"
    engine = create_store_engine(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        with (
            pytest.raises(ValueError, match="Soil_Type .*DROP TABLE.* is not one of the schema"),
            engine.begin() as connection,
        ):
            insert_rows(connection, frame, group_number=1, batch_number=1, ingested_at=utc_now())
        assert "forest_cover_data" in inspect(engine).get_table_names()
    finally:
        engine.dispose()
