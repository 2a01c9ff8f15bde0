"""When the ingestion DAG polls: planned from ``GET /groups`` and the store's last stored batch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import orjson
import pytest

from covertype.ingestion.cadence import OPENING_MARGIN, RESTART_RECHECK_INTERVALS, plan_next_poll
from covertype.ingestion.client import DataApiError
from covertype.settings import Settings
from covertype.store.batches import RunStatus, record_run, utc_now
from covertype.store.engine import create_store_engine

NOW = datetime(2026, 11, 30, 12, 0, 0, tzinfo=UTC)
STARTED = NOW - timedelta(seconds=10)


def _groups(status: int = 200, **group: object) -> httpx.Client:
    """A data API whose ``GET /groups`` announces group 1 as given (other groups around it)."""
    entry = {"group_number": 1, "batches": 5, "finished": False, **group}
    other = {"group_number": 2, "batch_number": None, "batches": 5, "batch_started_at": None}
    body = orjson.dumps([other | {"next_batch_at": None, "finished": False}, entry])
    transport = httpx.MockTransport(lambda request: httpx.Response(status, content=body))
    return httpx.Client(base_url="http://data-api.test", transport=transport)


def _window(batch: int, *, last: bool = False) -> dict[str, object]:
    return {
        "batch_number": batch,
        "batch_started_at": STARTED.isoformat().replace("+00:00", "Z"),
        "next_batch_at": None
        if last
        else (STARTED + timedelta(seconds=30)).isoformat().replace("+00:00", "Z"),
    }


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, group=1, batch_interval=30.0)


def _stored(settings: Settings, batch: int) -> None:
    engine = create_store_engine(settings.database)
    with engine.begin() as connection:
        record_run(
            connection, run_id="r", group_number=1, batch_number=batch, status=RunStatus.SUCCESS,
            started_at=utc_now(), finished_at=utc_now(),
        )  # fmt: skip
    engine.dispose()


def test_a_group_that_never_polled_is_polled_at_once(settings: Settings) -> None:
    client = _groups(batch_number=None, batch_started_at=None, next_batch_at=None)
    plan = plan_next_poll(settings, client=client, now=NOW)
    assert plan.poll_at == NOW and "first poll" in plan.reason


def test_an_open_batch_not_yet_stored_is_polled_at_once(settings: Settings) -> None:
    _stored(settings, 2)
    plan = plan_next_poll(settings, client=_groups(**_window(3)), now=NOW)
    assert plan.poll_at == NOW and "batch 3 is open and not stored" in plan.reason


def test_a_stored_batch_waits_for_the_next_opening(settings: Settings) -> None:
    _stored(settings, 3)
    plan = plan_next_poll(settings, client=_groups(**_window(3)), now=NOW)
    assert plan.poll_at == STARTED + timedelta(seconds=30) + OPENING_MARGIN
    assert "batch 4" in plan.reason


def test_the_last_batch_waits_for_its_window_to_end_and_a_finished_group_is_rechecked_slowly(
    settings: Settings,
) -> None:
    _stored(settings, 5)
    plan = plan_next_poll(settings, client=_groups(**_window(5, last=True)), now=NOW)
    assert plan.poll_at == STARTED + timedelta(seconds=30) + OPENING_MARGIN
    finished = plan_next_poll(settings, client=_groups(**_window(5, last=True) | {"finished": True}), now=NOW)
    assert finished.finished and not plan.finished
    assert finished.poll_at == NOW + timedelta(seconds=30) * RESTART_RECHECK_INTERVALS


def test_a_data_api_error_names_the_endpoint(settings: Settings) -> None:
    with pytest.raises(DataApiError, match=r"GET /groups answered HTTP 503"):
        plan_next_poll(settings, client=_groups(status=503), now=NOW)
