"""``GET /groups``: each group's schedule, read without moving any group on."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from fastapi.testclient import TestClient

from covertype.data_api import create_app
from covertype.dataset import load_dataset
from support.data_api import FakeClock, data_api_settings


def _client(tmp_path: Path, sample_csv: Path, clock: FakeClock) -> TestClient:
    settings = data_api_settings(tmp_path, sample_csv, groups=2, batches=2, batch_interval=60)
    frame: pd.DataFrame = load_dataset(sample_csv).head(2_000)
    return TestClient(create_app(settings, clock=clock, frame=frame))


def _at(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


def test_groups_report_batch_next_window_and_end_without_polling(tmp_path: Path, sample_csv: Path) -> None:
    clock = FakeClock()
    client = _client(tmp_path, sample_csv, clock)
    fresh = client.get("/groups").json()
    assert [g["batch_number"] for g in fresh] == [None, None] and not any(g["finished"] for g in fresh)
    assert client.get("/groups").json() == fresh  # reading never starts a group

    assert client.get("/data", params={"group_number": 1}).status_code == 200
    first = client.get("/groups").json()[0]
    assert first["batch_number"] == 1 and first["batches"] == 2
    assert first["batch_started_at"] == _at(clock.now) and first["next_batch_at"] == _at(clock.now + 60)

    clock.advance(60)
    assert client.get("/data", params={"group_number": 1}).json()["batch_number"] == 2
    last = client.get("/groups").json()[0]
    assert last["batch_number"] == 2 and last["next_batch_at"] is None and last["finished"] is False
    clock.advance(60)
    assert client.get("/groups").json()[0]["finished"] is True
    assert client.get("/groups").json()[1]["batch_number"] is None
