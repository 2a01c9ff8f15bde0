"""The prediction log gathers the answers of the next moments into one insert, and never holds them back
when it stops or a full batch is queued."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from covertype.inference.metrics import ServiceMetrics
from covertype.inference.prediction_log import AnsweredRecords, PredictionLog
from covertype.schema import FEATURE_COLUMNS
from covertype.settings import Settings
from covertype.store.engine import Engine, store_engine
from covertype.store.predictions import PredictionWriter
from covertype.store.tables import predictions
from support.inference import GOOD


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = store_engine(Settings(data_dir=tmp_path))
    yield engine
    engine.dispose()


@pytest.fixture
def inserts(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of rows of each insert the writers make."""
    counted: list[int] = []
    write = PredictionWriter.write

    def counting(writer: PredictionWriter, columns: Mapping[str, Sequence[object]]) -> None:
        counted.append(len(columns["cover_type"]))
        write(writer, columns)

    monkeypatch.setattr(PredictionWriter, "write", counting)
    return counted


def answered(count: int, cover_type: int = 2) -> AnsweredRecords:
    row = tuple(GOOD[column] for column in FEATURE_COLUMNS)
    return AnsweredRecords(
        list(zip(*[row] * count, strict=True)),
        [cover_type] * count,
        [0.5] * count,
        "covertype",
        "1",
        datetime(2026, 12, 1, 12, 0, 0),
    )


def stored(engine: Engine) -> list[tuple[object, ...]]:
    with engine.connect() as connection:
        rows = connection.execute(select(predictions).order_by(predictions.c.id)).all()
    return [tuple(row)[1:] for row in rows]


def wait_for(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)


def test_answers_arriving_together_share_one_insert(engine: Engine, inserts: list[int]) -> None:
    metrics = ServiceMetrics()
    log = PredictionLog(engine, metrics, linger=0.5)
    log.start()
    for cover_type in (1, 2, 3):
        log.record(answered(1, cover_type))
    wait_for(lambda: metrics.log_written._value.get() == 3)
    log.stop()
    assert inserts == [3]
    row = tuple(GOOD[column] for column in FEATURE_COLUMNS)
    at = datetime(2026, 12, 1, 12, 0, 0)
    assert stored(engine) == [(*row, cover_type, 0.5, "covertype", "1", at) for cover_type in (1, 2, 3)]


def test_stopping_writes_what_is_queued_without_lingering(engine: Engine, inserts: list[int]) -> None:
    metrics = ServiceMetrics()
    log = PredictionLog(engine, metrics, linger=60)
    log.start()
    log.record(answered(2))
    started = time.monotonic()
    log.stop()
    assert time.monotonic() - started < 10
    assert metrics.log_written._value.get() == 2 and sum(inserts) == 2


def test_a_full_batch_is_written_at_once(engine: Engine, inserts: list[int]) -> None:
    metrics = ServiceMetrics()
    log = PredictionLog(engine, metrics, batch_rows=3, linger=60)
    log.start()
    log.record(answered(3))
    wait_for(lambda: metrics.log_written._value.get() == 3)
    assert inserts == [3]
    log.stop()
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(predictions)).scalar_one() == 3
