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

Besides wall-clock rates it reports the CPU seconds this process and the local server spent on each
(``rows_per_cpu_s``: rows per CPU second of both together), which other load on the machine hardly changes.
The row-by-row rate depends mostly on how long a COMMIT (a redo-log flush) takes, so the speed-up differs
from machine to machine far more than the project's own rate does.

    uv run --frozen python benchmarks/bench_ingest.py [--repeat 3] [--baseline-rows 58101]

Needs MariaDB/MySQL at ``--admin-url`` (default root on 127.0.0.1:3306). Prints one JSON document.
"""

from __future__ import annotations

import argparse
import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import orjson
import pandas as pd
from sqlalchemy import Engine, create_engine, text

from covertype.dataset import distinct_copies, load_dataset
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


def _server_pid() -> int | None:
    """The local MariaDB/MySQL server process, when it runs on this machine."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if stat.read_text().split(" ", 2)[1] in ("(mariadbd)", "(mysqld)"):
                return int(stat.parent.name)
        except OSError:
            continue
    return None


def _cpu_seconds(pid: int | None) -> float:
    """User + system CPU seconds of process ``pid`` so far (0 when unknown)."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Timing:
    """Wall-clock seconds of one action, and the CPU seconds this process and the server spent on it."""

    wall: float
    client_cpu: float
    server_cpu: float


def timed(action: Callable[[], int], server: int | None) -> tuple[Timing, int]:
    wall, cpu, server_cpu = time.perf_counter(), time.process_time(), _cpu_seconds(server)
    result = action()
    return (
        Timing(time.perf_counter() - wall, time.process_time() - cpu, _cpu_seconds(server) - server_cpu),
        result,
    )


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

    frame = distinct_copies(load_dataset(SAMPLE), args.rows)
    json_rows = orjson.loads(orjson.dumps(frame.astype(object).to_numpy().tolist()))
    sql, values = _parameter_rows(frame)
    server = _server_pid()
    timings: dict[str, list[Timing]] = {"store": [], "store_again": [], "ingest": [], "executemany": []}
    counts: dict[str, int] = {}

    def measure(name: str, action: Callable[[], int]) -> None:
        timing, counts[name] = timed(action, server)
        timings.setdefault(name, []).append(timing)

    with scratch_database(args.admin_url) as engine:
        for _ in range(args.repeat):
            empty(engine)
            measure("store", lambda: store(engine, frame))
            measure("store_again", lambda: store(engine, frame))
            empty(engine)
            measure("ingest", lambda: ingest(engine, json_rows))
            empty(engine)
            measure("executemany", lambda: executemany(engine, sql, values))
        empty(engine)
        measure("row_by_row", lambda: row_by_row(engine, sql, values[: args.baseline_rows]))
        with engine.connect() as connection:
            version = connection.execute(text("SELECT VERSION()")).scalar_one()
            flush = connection.execute(text("SELECT @@innodb_flush_log_at_trx_commit")).scalar_one()

    median = {name: _median(runs) for name, runs in timings.items()}
    rows = {name: counts["row_by_row"] if name == "row_by_row" else args.rows for name in timings}
    rates = {name: rows[name] / median[name].wall for name in timings}
    # On an idle machine the client and the server would each have a core: CPU seconds bound the wall time.
    cpu_rates = {name: rows[name] / (median[name].client_cpu + median[name].server_cpu) for name in timings}
    speedup = rates["store"] / rates["row_by_row"]
    print(
        orjson.dumps(
            {
                "benchmark": "store one full-size batch in MariaDB",
                "server": version,
                "innodb_flush_log_at_trx_commit": int(flush),
                "rows": args.rows,
                "distinct_rows": len(set(row_hashes(frame))),
                "rows_stored": counts,
                "seconds_median": {name: round(t.wall, 3) for name, t in median.items()},
                "rows_per_s": {name: round(rate) for name, rate in rates.items()},
                "speedup_vs_row_by_row": {
                    name: round(rate / rates["row_by_row"], 1)
                    for name, rate in rates.items()
                    if name != "row_by_row"
                },
                "cpu_seconds_median": {
                    name: {"client": round(t.client_cpu, 3), "server": round(t.server_cpu, 3)}
                    for name, t in median.items()
                },
                "rows_per_cpu_s": {name: round(rate) for name, rate in cpu_rates.items()} if server else None,
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


def _median(runs: list[Timing]) -> Timing:
    return sorted(runs, key=lambda timing: timing.wall)[len(runs) // 2]


if __name__ == "__main__":
    main()
