"""Ingestion: validating rows, polling with retries, and polls stored once, atomically, and logged."""

from __future__ import annotations

import contextlib
import itertools
import time
from pathlib import Path

import httpx
import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, event, select

from covertype.data_api import create_app
from covertype.ingestion import IngestionFailed, ingest_once
from covertype.ingestion.client import Batch, BatchesExhausted, DataApiError, fetch_batch
from covertype.ingestion.pipeline import STORE_ATTEMPTS
from covertype.ingestion.validation import validate_batch
from covertype.processes import unused_port
from covertype.schema import COLUMNS
from covertype.settings import Settings
from covertype.store.batches import DEFAULT_CHUNK_ROWS
from covertype.store.engine import create_store_engine
from covertype.store.tables import forest_cover_rejected, ingestion_runs
from support.data_api import FakeClock, data_api_settings
from support.store import (
    STORES,
    batch_rows,
    count_rows,
    data_api_answer,
    fixed_client,
    make_store,
    sample_frame,
)

EXHAUSTED = orjson.dumps(
    {
        "detail": "group 1: all 10 batches were delivered; GET /restart_data_generation",
        "reason": "all_batches_delivered",
    }
)


@pytest.fixture(params=STORES)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return make_store(request, tmp_path)


def _settings(tmp_path: Path, store_url: str = "", **overrides: object) -> Settings:
    values: dict[str, object] = {
        "data_dir": tmp_path,
        "database_url": store_url or None,
        "data_api_url": "http://data-api.test",
        "http_retries": 3,
        "http_backoff": 0.01,
        "http_timeout": 2.0,
    }
    return Settings(**(values | overrides))


def _table(url: str, table, *order) -> list[dict[str, object]]:  # noqa: ANN001
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return [
                dict(row._mapping)
                for row in connection.execute(select(table).order_by(*order or [table.c.id]))
            ]
    finally:
        engine.dispose()


# -- validation -------------------------------------------------------------------------------------------


def test_good_rows_pass_validation_unchanged(sample_csv: Path) -> None:
    frame = sample_frame(sample_csv, 500)
    rows = batch_rows(frame)
    rows[0][0] = float(rows[0][0])  # 2596.0 is an integer too
    checked = validate_batch(list(COLUMNS), rows)
    assert checked.rejected == []
    assert checked.received == 500
    assert checked.rows.equals(frame.reset_index(drop=True))


def test_each_bad_row_is_rejected_with_every_reason(sample_csv: Path) -> None:
    rows = batch_rows(sample_frame(sample_csv, 8))
    rows[1][0] = "2596"  # a string where a number belongs
    rows[2][11] = "C9999"  # not an ELU code
    rows[3][2] = 91  # slope beyond 90 degrees
    rows[4] = rows[4][:12]  # Cover_Type missing
    rows[5][3], rows[5][10], rows[5][12] = None, "Nowhere", 8
    rows[6][4] = True
    rows[7] = {"Elevation": 1}

    checked = validate_batch(list(COLUMNS), rows)

    reasons = {row.row_number: row.reason for row in checked.rejected}
    assert reasons == {
        2: "Elevation '2596' is not an integer",
        3: "Soil_Type 'C9999' is not a USFS ELU code of the schema (C2702 ... C8776)",
        4: "Slope 91 is outside 0..90",
        5: "row has 12 values, the columns are 13: a value is missing or extra",
        6: "Horizontal_Distance_To_Hydrology is missing; Cover_Type 8 is outside 1..7; "
        "Wilderness_Area 'Nowhere' is not one of Rawah, Neota, Commanche, Cache",
        7: "Vertical_Distance_To_Hydrology True is not an integer",
        8: "row is a dict, not a list of 13 values",
    }
    assert orjson.loads(checked.rejected[0].payload) == rows[1]
    assert len(checked.rows) == 1


def test_columns_may_come_in_any_order_but_none_may_be_missing(sample_csv: Path) -> None:
    frame = sample_frame(sample_csv, 20)
    shuffled = list(reversed(COLUMNS))
    checked = validate_batch(shuffled, batch_rows(frame[shuffled]))
    assert checked.rows.equals(frame.reset_index(drop=True))

    without_soil = [name for name in COLUMNS if name != "Soil_Type"]
    checked = validate_batch(without_soil, batch_rows(frame[without_soil]))
    assert checked.rows.empty
    assert {row.reason for row in checked.rejected} == {"the batch has no Soil_Type column"}
    assert len(checked.rejected) == 20

    twice = [*COLUMNS, "Slope"]
    checked = validate_batch(twice, [row + [0] for row in batch_rows(frame)])
    assert {row.reason for row in checked.rejected} == {"the batch names Slope more than once"}


# -- polling ----------------------------------------------------------------------------------------------


def test_server_errors_are_retried_and_client_errors_are_not(tmp_path: Path, sample_csv: Path) -> None:
    answers = [httpx.Response(503, text="busy"), httpx.Response(502, text="bad gateway")]
    body = data_api_answer(batch_rows(sample_frame(sample_csv, 3)), batch_number=4)
    calls: list[httpx.Request] = []

    def flaky(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return answers.pop(0) if answers else httpx.Response(200, content=body)

    client = httpx.Client(base_url="http://data-api.test", transport=httpx.MockTransport(flaky))
    batch = fetch_batch(_settings(tmp_path), group=3, client=client)
    assert isinstance(batch, Batch) and batch.batch_number == 4 and len(batch.data) == 3
    assert [dict(call.url.params) for call in calls] == [{"group_number": "3"}] * 3

    calls.clear()
    refusing = httpx.Client(
        base_url="http://data-api.test",
        transport=httpx.MockTransport(
            lambda r: calls.append(r) or httpx.Response(422, json={"detail": "bad"})
        ),
    )
    with pytest.raises(DataApiError, match="HTTP 422: bad"):
        fetch_batch(_settings(tmp_path), client=refusing)
    assert len(calls) == 1


def _restarting_data_api(body: bytes, down_seconds: float) -> tuple[httpx.Client, list[float]]:
    """A data API refusing connections for ``down_seconds`` (restarting), then answering ``body``."""
    back_at = time.monotonic() + down_seconds
    attempts: list[float] = []

    def answer(request: httpx.Request) -> httpx.Response:
        attempts.append(time.monotonic())
        if attempts[-1] < back_at:
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
        return httpx.Response(200, content=body)

    return httpx.Client(base_url="http://data-api.test", transport=httpx.MockTransport(answer)), attempts


def test_the_dags_poll_waits_half_an_interval_for_a_restarting_data_api(
    tmp_path: Path, sample_csv: Path
) -> None:
    body = data_api_answer(batch_rows(sample_frame(sample_csv, 3)), batch_number=5)
    settings = _settings(tmp_path, http_retries=3, http_backoff=0.1, batch_interval=8.0)

    client, attempts = _restarting_data_api(body, down_seconds=2.0)
    with pytest.raises(DataApiError, match="gave up after 3 attempts, last: ConnectError"):
        fetch_batch(settings, client=client)  # a person's `covertype ingest`: the answer at once
    assert attempts[-1] - attempts[0] < 1.0

    client, attempts = _restarting_data_api(body, down_seconds=2.0)
    batch = fetch_batch(settings, client=client, wait_for_api=True)
    assert isinstance(batch, Batch) and batch.batch_number == 5
    assert max(b - a for a, b in itertools.pairwise(attempts)) <= 8.0 / 8 + 0.2  # waits capped at interval/8

    client, attempts = _restarting_data_api(body, down_seconds=60.0)
    with pytest.raises(DataApiError, match="gave up after"):
        fetch_batch(settings, client=client, wait_for_api=True)
    assert 4.0 <= attempts[-1] - attempts[0] < 6.0  # half the interval, then Airflow's retry takes over


def test_all_batches_delivered_is_an_outcome(tmp_path: Path) -> None:
    outcome = fetch_batch(_settings(tmp_path), client=fixed_client(400, EXHAUSTED))
    assert isinstance(outcome, BatchesExhausted)
    assert "all 10 batches were delivered" in outcome.detail


def test_exhaustion_is_read_from_the_reason_not_from_the_words(tmp_path: Path) -> None:
    worded = orjson.dumps({"detail": "all batches were delivered", "reason": "group_out_of_range"})
    with pytest.raises(DataApiError, match="HTTP 400: all batches were delivered"):
        fetch_batch(_settings(tmp_path), client=fixed_client(400, worded))


def test_the_data_apis_last_answer_is_recognised_as_exhaustion(tmp_path: Path, sample_csv: Path) -> None:
    clock = FakeClock()
    settings = data_api_settings(tmp_path, sample_csv, batches=1, groups=1)
    data_api = TestClient(create_app(settings, clock=clock, frame=sample_frame(sample_csv, 1_000)))
    assert isinstance(fetch_batch(_settings(tmp_path), client=data_api), Batch)
    clock.advance(settings.batch_interval)

    outcome = fetch_batch(_settings(tmp_path), client=data_api)

    assert outcome == BatchesExhausted(
        group_number=1,
        detail="group 1: all 1 batches were delivered; GET /restart_data_generation?group_number=1 starts "
        "again at batch 1",
    )


# -- ingest_once on SQLite and MariaDB ---------------------------------------------------------------------


def test_the_same_poll_twice_stores_the_rows_once(tmp_path: Path, store_url: str, sample_csv: Path) -> None:
    client = fixed_client(200, data_api_answer(batch_rows(sample_frame(sample_csv, 400)), batch_number=2))
    settings = _settings(tmp_path, store_url)

    first = ingest_once(settings, run_id="run-1", client=client)
    second = ingest_once(settings, run_id="run-2", client=client)

    assert first.to_dict() | {"run_id": "-"} == {
        "run_id": "-", "group_number": 1, "batch_number": 2, "status": "success", "rows_received": 400,
        "rows_inserted": 400, "duplicates": 0, "rejected": 0, "detail": None,
    }  # fmt: skip
    assert (second.rows_inserted, second.duplicates) == (0, 400)
    assert count_rows(store_url, "forest_cover_data") == 400
    runs = _table(store_url, ingestion_runs)
    assert [(r["run_id"], r["status"], r["rows_inserted"], r["duplicates"]) for r in runs] == [
        ("run-1", "success", 400, 0),
        ("run-2", "success", 0, 400),
    ]


def test_a_store_failing_halfway_leaves_nothing_and_a_retry_completes(
    tmp_path: Path, store_url: str, sample_csv: Path
) -> None:
    rows = DEFAULT_CHUNK_ROWS + 500  # two INSERT statements
    client = fixed_client(200, data_api_answer(batch_rows(sample_frame(sample_csv, rows))))
    settings = _settings(tmp_path, store_url)
    engine = create_store_engine(store_url)
    statements: list[str] = []

    def break_second_insert(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001, ANN202
        if statement.startswith("INSERT") and "forest_cover_data" in statement.split("(")[0]:
            statements.append(statement)
            if len(statements) == 2:  # the server sees a statement it must refuse, mid-transaction
                return "INSERT INTO forest_cover_data_missing VALUES (1)", parameters
        return statement, parameters

    event.listen(engine, "before_cursor_execute", break_second_insert, retval=True)
    try:
        with pytest.raises(
            IngestionFailed, match="storing batch 1 of group 1 failed: .*forest_cover_data_missing"
        ):
            ingest_once(settings, run_id="broken", engine=engine, client=client)
        assert len(statements) == 2
        assert count_rows(store_url, "forest_cover_data") == 0

        event.remove(engine, "before_cursor_execute", break_second_insert)
        retried = ingest_once(settings, run_id="retried", engine=engine, client=client)
    finally:
        engine.dispose()

    assert retried.rows_inserted == rows
    assert count_rows(store_url, "forest_cover_data") == rows
    runs = _table(store_url, ingestion_runs)
    assert [(r["run_id"], r["status"], r["rows_inserted"]) for r in runs] == [
        ("broken", "failed", 0),
        ("retried", "success", rows),
    ]
    assert "forest_cover_data_missing" in runs[0]["error"]
    assert len(runs[0]["error"]) < 1000  # the megabyte of SQL is not copied into the log


@pytest.mark.mariadb
@pytest.mark.parametrize("killed_attempts", [1, STORE_ATTEMPTS])
def test_each_store_attempt_whose_connection_died_is_logged_as_failed(
    tmp_path: Path, from_metadata: Engine, sample_csv: Path, killed_attempts: int
) -> None:
    """The server kills the connection (``KILL``) as each of the first attempts sends its rows. Each retried
    attempt is a ``failed`` row once the store answers; then the batch is stored or the poll gives up."""
    url = from_metadata.url.render_as_string(hide_password=False)
    client = fixed_client(200, data_api_answer(batch_rows(sample_frame(sample_csv, 400)), batch_number=3))
    engine = create_store_engine(url)
    killed: list[int] = []

    def kill_the_connection(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001, ANN202
        if len(killed) < killed_attempts and "INTO forest_cover_data (" in statement:
            killed.append(conn.connection.dbapi_connection.thread_id())
            with from_metadata.connect() as other:
                other.exec_driver_sql(f"KILL {killed[-1]}")
        return statement, parameters

    gave_up = killed_attempts == STORE_ATTEMPTS
    retried = min(killed_attempts, STORE_ATTEMPTS - 1)  # the last attempt is not retried
    event.listen(engine, "before_cursor_execute", kill_the_connection, retval=True)
    try:
        with pytest.raises(IngestionFailed) if gave_up else contextlib.nullcontext():
            ingest_once(_settings(tmp_path, url), run_id="cut", engine=engine, client=client)
    finally:
        engine.dispose()

    assert len(killed) == killed_attempts
    assert count_rows(url, "forest_cover_data") == (0 if gave_up else 400)
    runs = _table(url, ingestion_runs)
    assert [(run["run_id"], run["batch_number"], run["status"], run["rows_inserted"]) for run in runs] == (
        [] if gave_up else [("cut", 3, "success", 400)]
    ) + [("cut", 3, "failed", 0)] * (retried + gave_up)
    errors = [run["error"] for run in runs if run["status"] == "failed"]
    assert [error.split(":")[0] for error in errors[:retried]] == [
        f"attempt {attempt} of {STORE_ATTEMPTS} storing batch 3" for attempt in range(1, retried + 1)
    ]
    assert all(error.endswith("; retried") for error in errors[:retried])
    assert not gave_up or errors[-1].startswith("storing batch 3 of group 1 failed: ")


def test_a_data_api_that_is_down_is_retried_then_logged_as_failed(tmp_path: Path, store_url: str) -> None:
    settings = _settings(
        tmp_path, store_url, data_api_url=f"http://127.0.0.1:{unused_port()}", http_retries=3
    )

    with pytest.raises(
        IngestionFailed, match=r"GET /data\?group_number=1 gave up after 3 attempts, last: ConnectError"
    ):
        ingest_once(settings, run_id="down")

    [run] = _table(store_url, ingestion_runs)
    assert (run["run_id"], run["status"], run["batch_number"], run["rows_inserted"]) == (
        "down",
        "failed",
        None,
        0,
    )
    assert "gave up after 3 attempts" in run["error"] and "ConnectError" in run["error"]
    assert run["finished_at"] >= run["started_at"]


def test_malformed_rows_are_rejected_and_the_good_rows_stored(
    tmp_path: Path, store_url: str, sample_csv: Path
) -> None:
    rows = batch_rows(sample_frame(sample_csv, 50))
    rows[5][0] = "high"  # wrong type
    rows[6][11] = "C0000"  # unknown soil code
    rows[7][2] = 120  # slope out of range
    del rows[8][4]  # a column missing
    client = fixed_client(200, data_api_answer(rows, batch_number=3))
    settings = _settings(tmp_path, store_url)

    result = ingest_once(settings, run_id="mixed", client=client)
    ingest_once(settings, run_id="mixed-again", client=client)

    assert (result.rows_received, result.rows_inserted, result.rejected) == (50, 46, 4)
    assert count_rows(store_url, "forest_cover_data") == 46
    rejected = _table(store_url, forest_cover_rejected)
    assert [(r["row_number"], r["batch_number"], r["run_id"]) for r in rejected] == [
        (6, 3, "mixed"), (7, 3, "mixed"), (8, 3, "mixed"), (9, 3, "mixed"),
    ]  # fmt: skip
    assert [r["reason"] for r in rejected] == [
        "Elevation 'high' is not an integer",
        "Soil_Type 'C0000' is not a USFS ELU code of the schema (C2702 ... C8776)",
        "Slope 120 is outside 0..90",
        "row has 12 values, the columns are 13: a value is missing or extra",
    ]
    assert orjson.loads(rejected[0]["payload"]) == rows[5]


def test_all_batches_delivered_is_logged_not_raised(tmp_path: Path, store_url: str) -> None:
    result = ingest_once(_settings(tmp_path, store_url), run_id="late", client=fixed_client(400, EXHAUSTED))

    assert result.status == "exhausted" and result.rows_inserted == 0
    [run] = _table(store_url, ingestion_runs)
    assert (run["status"], run["batch_number"]) == ("exhausted", None)
    assert "all 10 batches were delivered" in run["error"]


def test_an_unreachable_store_fails_clearly_without_leaking_its_password(tmp_path: Path) -> None:
    store = f"mysql+pymysql://covertype:s3cret@127.0.0.1:{unused_port()}/covertype"
    settings = _settings(tmp_path, store)
    with pytest.raises(
        IngestionFailed, match=r"store mysql\+pymysql://covertype:\*\*\*@127.0.0.1:\d+/covertype: "
    ) as caught:
        ingest_once(settings, client=fixed_client(400, EXHAUSTED))
    assert "s3cret" not in str(caught.value)
