"""``GET /metrics`` of the data API, through the app: polls by group and outcome, each group's batch,
requests and latency by endpoint."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from covertype.data_api import create_app
from covertype.dataset import load_dataset
from support.data_api import FakeClock, data_api_settings
from support.prometheus import SampleKey, parse_samples


@pytest.fixture(scope="module")
def frame(sample_csv: Path) -> pd.DataFrame:
    return load_dataset(sample_csv)


def _samples(client: TestClient) -> dict[SampleKey, float]:
    """Every sample of ``/metrics``, keyed by name and labels."""
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return parse_samples(response.text)


def _polls(samples: dict[SampleKey, float], group: str, outcome: str) -> float:
    return samples.get(
        ("covertype_data_polls_total", frozenset({("group", group), ("outcome", outcome)})), 0.0
    )


def test_metrics_count_polls_by_group_and_outcome_and_show_each_groups_batch(
    tmp_path: Path, sample_csv: Path, frame: pd.DataFrame
) -> None:
    clock = FakeClock()
    settings = data_api_settings(tmp_path, sample_csv, groups=2, batches=2)
    client = TestClient(create_app(settings, clock=clock, frame=frame))
    before = _samples(client)
    assert before[("covertype_data_group_batch", frozenset({("group", "1")}))] == 0

    client.get("/data", params={"group_number": 1})  # opens batch 1
    client.get("/data", params={"group_number": 1})  # same window
    clock.advance(settings.batch_interval)
    client.get("/data", params={"group_number": 1})  # opens batch 2, the last
    clock.advance(settings.batch_interval)
    assert client.get("/data", params={"group_number": 1}).status_code == 400  # exhausted
    assert client.get("/data", params={"group_number": 7}).status_code == 400  # out of range
    assert client.get("/data", params={"group_number": 8}).status_code == 400
    assert client.get("/data", params={"group_number": "x"}).status_code == 422

    samples = _samples(client)
    assert _polls(samples, "1", "new_batch") == 2
    assert _polls(samples, "1", "same_batch") == 1
    assert _polls(samples, "1", "exhausted") == 1
    assert _polls(samples, "other", "out_of_range") == 2  # one label for every unserved group
    assert _polls(samples, "2", "new_batch") == 0
    assert samples[("covertype_data_group_batch", frozenset({("group", "1")}))] == 2
    assert samples[("covertype_data_group_finished", frozenset({("group", "1")}))] == 1
    assert samples[("covertype_data_group_batch", frozenset({("group", "2")}))] == 0
    assert samples[("covertype_data_group_finished", frozenset({("group", "2")}))] == 0
    requests = {("/data", "200"): 3, ("/data", "400"): 3, ("/data", "422"): 1}
    for (endpoint, status), count in requests.items():
        labels = frozenset({("endpoint", endpoint), ("method", "GET"), ("status", status)})
        assert samples[("covertype_http_requests_total", labels)] == count
    latency = frozenset({("endpoint", "/data"), ("method", "GET")})
    assert samples[("covertype_http_request_duration_seconds_count", latency)] == 7


def test_each_app_has_its_own_registry(tmp_path: Path, sample_csv: Path, frame: pd.DataFrame) -> None:
    """Two apps in one process (tests, several APIs) count apart, and neither fails on a duplicate name."""
    settings = data_api_settings(tmp_path, sample_csv)
    one = TestClient(create_app(settings, clock=FakeClock(), frame=frame))
    two = TestClient(create_app(settings, clock=FakeClock(), frame=frame))
    one.get("/data", params={"group_number": 1})

    assert _polls(_samples(one), "1", "new_batch") == 1
    assert _polls(_samples(two), "1", "new_batch") == 0
