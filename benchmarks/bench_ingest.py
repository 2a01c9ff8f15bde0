"""Benchmark of storing one full-size batch (58,101 rows) in MariaDB: the project's path against the
row-by-row ``INSERT ...; COMMIT`` loop of course implementations, in the same run, on the same table.

The 15,000-row sample is replicated to 58,101 rows, each copy shifted by one metre of road distance so
that every row is distinct (deduplication has real work to do and skips nothing). Measured, each on an
empty table in a throw-away database (dropped at the end):

* ``store``: ``insert_rows`` in one transaction (row hashes, multi-row ``INSERT IGNORE``, commit),
* ``store_again``: the same rows once more: all are duplicates, nothing is stored,
* ``ingest``: a whole poll minus HTTP: ``validate_batch`` of the JSON rows, then ``store_batch``,
* ``executemany``: pymysql's ``executemany`` of the same ``INSERT IGNORE`` with ``%s`` parameters, one commit
  (what the store would cost if the driver escaped every value),
* ``row_by_row``: ``INSERT`` and ``COMMIT`` per row (on ``--baseline-rows`` rows; all by default).

    uv run --frozen python benchmarks/bench_ingest.py [--repeat 3] [--baseline-rows 58101]

Needs MariaDB/MySQL at ``--admin-url`` (default root on 127.0.0.1:3306). Prints one JSON document.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson
import pandas as pd
from sqlalchemy import Engine, create_engine, text

from covertype.dataset import load_dataset
from covertype.ingestion.validation import validate_batch
from covertype.schema import COLUMNS
from covertype.store.batches import insert_rows, store_batch, utc_now
from covertype.store.engine import create_store_engine
from covertype.store.row_hash import row_hashes
from covertype.store.tables import forest_cover_data, metadata

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO.parent / "shared" / "data" / "covtype-sample-15k.csv"
BATCH_ROWS = 58_101  # 581,012 rows in 10 batches
TARGET_SPEEDUP = 50
TARGET_ROWS_PER_S = 50_000


def full_batch(rows: int) -> pd.DataFrame:
    """The sample repeated to ``rows`` rows; copy k has ``k`` metres added to the road distance."""
    sample = load_dataset(SAMPLE)
    copies = []
    for k in range(-(-rows // len(sample))):
        copy = sample.copy()
        copy["Horizontal_Distance_To_Roadways"] += k
        copies.append(copy)
    return pd.concat(copies, ignore_index=True).head(rows)


@contextmanager
def scratch_database(admin_url: str) -> Iterator[Engine]:
    """A new database with the project's tables, dropped afterwards."""
    name = f"covertype_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    engine = create_store_engine(f"{admin_url}/{name}")
    try:
        metadata.create_all(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()


def empty(engine: Engine) -> None:
    with engine.begin() as connection:
        for table in ("forest_cover_data", "forest_cover_rejected", "ingestion_runs"):
            connection.execute(text(f"TRUNCATE TABLE {table}"))


def timed(action: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def store(engine: Engine, frame: pd.DataFrame) -> int:
    with engine.begin() as connection:
        return insert_rows(connection, frame, group_number=1, batch_number=1, ingested_at=utc_now())


def ingest(engine: Engine, rows: list[list[object]]) -> int:
    batch = validate_batch(list(COLUMNS), rows)
    stored = store_batch(
        engine,
        batch.rows,
        rejected=batch.rejected,
        run_id="bench",
        group_number=1,
        batch_number=1,
        received=batch.received,
        started_at=utc_now(),
    )
    return stored.inserted


def _parameter_rows(frame: pd.DataFrame) -> tuple[str, list[tuple[object, ...]]]:
    """The INSERT with ``%s`` placeholders and one tuple of Python values per row (built before timing)."""
    names = [*COLUMNS, "group_number", "batch_number", "ingested_at", "row_hash"]
    sql = (
        f"INSERT IGNORE INTO {forest_cover_data.name} ({', '.join(f'`{n}`' for n in names)}) "
        f"VALUES ({', '.join(['%s'] * len(names))})"
    )
    now = utc_now()
    values = [
        (*row, 1, 1, now, digest)
        for row, digest in zip(
            frame.astype(object).itertuples(index=False, name=None), row_hashes(frame), strict=True
        )
    ]
    return sql, values


def executemany(engine: Engine, sql: str, values: list[tuple[object, ...]]) -> int:
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        inserted = 0
        for start in range(0, len(values), 5_000):
            inserted += cursor.executemany(sql, values[start : start + 5_000])
        connection.commit()
        return inserted
    finally:
        connection.close()


def row_by_row(engine: Engine, sql: str, values: list[tuple[object, ...]]) -> int:
    """The course loop: one INSERT, one COMMIT, per row."""
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        for row in values:
            cursor.execute(sql.replace("INSERT IGNORE", "INSERT"), row)
            connection.commit()
        return len(values)
    finally:
        connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--admin-url", default="mysql+pymysql://root@127.0.0.1:3306")
    parser.add_argument("--rows", type=int, default=BATCH_ROWS)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each fast path (the median counts)")
    parser.add_argument("--baseline-rows", type=int, default=BATCH_ROWS, help="rows of the row-by-row loop")
    args = parser.parse_args()

    frame = full_batch(args.rows)
    json_rows = orjson.loads(orjson.dumps(frame.astype(object).to_numpy().tolist()))
    sql, values = _parameter_rows(frame)
    seconds: dict[str, list[float]] = {"store": [], "store_again": [], "ingest": [], "executemany": []}
    counts: dict[str, int] = {}

    with scratch_database(args.admin_url) as engine:
        for _ in range(args.repeat):
            empty(engine)
            elapsed, counts["store"] = timed(lambda: store(engine, frame))
            seconds["store"].append(elapsed)
            elapsed, counts["store_again"] = timed(lambda: store(engine, frame))
            seconds["store_again"].append(elapsed)
            empty(engine)
            elapsed, counts["ingest"] = timed(lambda: ingest(engine, json_rows))
            seconds["ingest"].append(elapsed)
            empty(engine)
            elapsed, counts["executemany"] = timed(lambda: executemany(engine, sql, values))
            seconds["executemany"].append(elapsed)
        empty(engine)
        baseline_seconds, counts["row_by_row"] = timed(
            lambda: row_by_row(engine, sql, values[: args.baseline_rows])
        )
        with engine.connect() as connection:
            server = connection.execute(text("SELECT VERSION()")).scalar_one()

    rates = {name: args.rows / statistics.median(times) for name, times in seconds.items()}
    rates["row_by_row"] = counts["row_by_row"] / baseline_seconds
    speedup = rates["store"] / rates["row_by_row"]
    print(
        orjson.dumps(
            {
                "benchmark": "store one full-size batch in MariaDB",
                "server": server,
                "rows": args.rows,
                "distinct_rows": len(set(row_hashes(frame))),
                "rows_stored": counts,
                "seconds_median": {
                    name: round(statistics.median(times), 3) for name, times in seconds.items()
                }
                | {"row_by_row": round(baseline_seconds, 3)},
                "rows_per_s": {name: round(rate) for name, rate in rates.items()},
                "speedup_vs_row_by_row": {
                    name: round(rate / rates["row_by_row"], 1)
                    for name, rate in rates.items()
                    if name != "row_by_row"
                },
                "targets": {
                    f"store >= {TARGET_ROWS_PER_S} rows/s": rates["store"] >= TARGET_ROWS_PER_S,
                    f"store >= {TARGET_SPEEDUP}x row by row": speedup >= TARGET_SPEEDUP,
                },
                "load_average_1m": round(os.getloadavg()[0], 2),
                "cpus": os.cpu_count(),
            },
            option=orjson.OPT_INDENT_2,
        ).decode()
    )


if __name__ == "__main__":
    main()
