"""HTTP tests of the data API (in-process, fake clock): every endpoint, every error, a full walk."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from covertype import __version__
from covertype.data_api import create_app
from covertype.data_api.batches import BatchPlan
from covertype.dataset import load_dataset
from covertype.schema import COLUMNS
from covertype.serving import serve
from support.data_api import FakeClock, data_api_settings
from support.docs import assert_docs_work_offline
from support.hostile_values import SMALL_ANSWER, TEN_MB, chunked, padded_json


@pytest.fixture(scope="module")
def frame(sample_csv: Path) -> pd.DataFrame:
    return load_dataset(sample_csv)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def client(tmp_path: Path, sample_csv: Path, frame: pd.DataFrame, clock: FakeClock) -> TestClient:
    return TestClient(create_app(data_api_settings(tmp_path, sample_csv), clock=clock, frame=frame))


def _rows(response_json: dict) -> set[tuple]:
    return {tuple(row) for row in response_json["data"]}


def test_data_returns_the_contract_keys_and_typed_rows(client: TestClient) -> None:
    response = client.get("/data", params={"group_number": 1})

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"group_number", "batch_number", "columns", "data"}
    assert body["group_number"] == 1
    assert body["batch_number"] == 1
    assert body["columns"] == list(COLUMNS)
    assert len(body["data"]) == 300  # floor(15,000 / 5 * 0.1)
    row = body["data"][0]
    assert len(row) == 13
    assert all(isinstance(value, int) for value in row[:10])
    assert isinstance(row[10], str) and isinstance(row[11], str)
    assert row[12] in range(1, 8)


def test_repeated_polls_in_a_window_return_the_same_rows(client: TestClient, clock: FakeClock) -> None:
    first = client.get("/data", params={"group_number": 2}).json()
    clock.advance(59.9)
    second = client.get("/data", params={"group_number": 2}).json()

    assert second == first


def test_groups_get_different_samples_of_the_same_slice(client: TestClient) -> None:
    one = client.get("/data", params={"group_number": 1}).json()
    two = client.get("/data", params={"group_number": 2}).json()

    assert one["batch_number"] == two["batch_number"] == 1
    assert _rows(one) != _rows(two)


def test_a_group_walks_through_every_batch_then_gets_400(
    tmp_path: Path, sample_csv: Path, frame: pd.DataFrame, clock: FakeClock
) -> None:
    # 7 batches of 15,000 rows: slices of 2,142 and a last slice of 2,148 (the remainder)
    settings = data_api_settings(tmp_path, sample_csv, batches=7, sample_fraction=0.5)
    client = TestClient(create_app(settings, clock=clock, frame=frame))
    plan = BatchPlan(n_rows=len(frame), batches=7, sample_fraction=0.5, seed=settings.seed)
    shuffled = [tuple(row) for row in frame.iloc[plan.shuffle()].itertuples(index=False)]

    delivered: list[set[tuple]] = []
    for batch_number in range(1, 8):
        body = client.get("/data", params={"group_number": 3}).json()
        assert body["batch_number"] == batch_number
        start, stop = plan.slice_bounds(batch_number)
        assert len(body["data"]) == (stop - start) // 2
        rows = _rows(body)
        assert rows <= set(shuffled[start:stop]), f"batch {batch_number} has rows from outside its slice"
        delivered.append(rows)
        clock.advance(30)
        assert client.get("/data", params={"group_number": 3}).json()["batch_number"] == batch_number
        clock.advance(30)

    assert [len(rows) for rows in delivered] == [1071] * 6 + [1074]
    assert len(set().union(*delivered)) == sum(len(rows) for rows in delivered), "slices overlap"
    final = client.get("/data", params={"group_number": 3})
    assert final.status_code == 400
    assert "all 7 batches were delivered" in final.json()["detail"]
    assert final.json()["reason"] == "all_batches_delivered"


def test_the_last_batch_is_served_for_its_whole_window(client: TestClient, clock: FakeClock) -> None:
    for _ in range(5):
        client.get("/data", params={"group_number": 1})
        clock.advance(60)
    clock.advance(-0.5)  # the fifth batch began 59.5 s ago

    assert client.get("/data", params={"group_number": 1}).json()["batch_number"] == 5
    clock.advance(0.5)
    assert client.get("/data", params={"group_number": 1}).status_code == 400


def test_a_late_poll_moves_one_batch_only(client: TestClient, clock: FakeClock) -> None:
    client.get("/data", params={"group_number": 1})
    clock.advance(3600)

    assert client.get("/data", params={"group_number": 1}).json()["batch_number"] == 2


def test_zero_interval_advances_on_every_poll(
    tmp_path: Path, sample_csv: Path, frame: pd.DataFrame, clock: FakeClock
) -> None:
    settings = data_api_settings(tmp_path, sample_csv, batch_interval=0)
    client = TestClient(create_app(settings, clock=clock, frame=frame))

    numbers = [client.get("/data", params={"group_number": 1}).json()["batch_number"] for _ in range(5)]

    assert numbers == [1, 2, 3, 4, 5]
    assert client.get("/data", params={"group_number": 1}).status_code == 400


def test_restart_sends_the_group_back_to_batch_1(client: TestClient, clock: FakeClock) -> None:
    first = client.get("/data", params={"group_number": 2}).json()
    clock.advance(60)
    assert client.get("/data", params={"group_number": 2}).json()["batch_number"] == 2
    client.get("/data", params={"group_number": 1})

    response = client.get("/restart_data_generation", params={"group_number": 2})

    assert response.status_code == 200
    assert response.json()["group_number"] == 2
    again = client.get("/data", params={"group_number": 2}).json()
    assert again == first  # batch 1 again, with its seeded sample
    assert client.get("/data", params={"group_number": 1}).json()["batch_number"] == 1  # others untouched


def test_restart_after_all_batches_were_delivered(
    tmp_path: Path, sample_csv: Path, frame: pd.DataFrame, clock: FakeClock
) -> None:
    client = TestClient(
        create_app(data_api_settings(tmp_path, sample_csv, batch_interval=0), clock=clock, frame=frame)
    )
    for _ in range(5):
        client.get("/data", params={"group_number": 1})
    assert client.get("/data", params={"group_number": 1}).status_code == 400

    client.get("/restart_data_generation", params={"group_number": 1})

    assert client.get("/data", params={"group_number": 1}).json()["batch_number"] == 1


def test_state_survives_a_new_app_on_the_same_state_file(
    tmp_path: Path, sample_csv: Path, frame: pd.DataFrame, clock: FakeClock
) -> None:
    settings = data_api_settings(tmp_path, sample_csv)
    before = TestClient(create_app(settings, clock=clock, frame=frame))
    before.get("/data", params={"group_number": 1})
    clock.advance(60)
    assert before.get("/data", params={"group_number": 1}).json()["batch_number"] == 2

    after = TestClient(create_app(settings, clock=clock, frame=frame))

    assert after.get("/data", params={"group_number": 1}).json()["batch_number"] == 2


@pytest.mark.parametrize("path", ["/data", "/restart_data_generation"])
@pytest.mark.parametrize("group", ["0", "4", "-1", "99999999999999999999999"])
def test_a_group_outside_the_range_is_a_400_naming_it(client: TestClient, path: str, group: str) -> None:
    response = client.get(path, params={"group_number": group})

    assert response.status_code == 400
    assert response.json() == {
        "detail": f"group_number {group} is outside 1..3",
        "reason": "group_out_of_range",
    }


@pytest.mark.parametrize("path", ["/data", "/restart_data_generation"])
@pytest.mark.parametrize("query", ["?group_number=abc", "?group_number=1.5", "?group_number=", ""])
def test_a_missing_or_non_integer_group_is_a_422_naming_the_field(
    client: TestClient, path: str, query: str
) -> None:
    response = client.get(path + query)

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "group_number"]


@pytest.mark.parametrize("path", ["/data", "/restart_data_generation"])
def test_a_50_kb_query_value_is_a_422_under_10_kb_naming_the_field(client: TestClient, path: str) -> None:
    """As long a query as httpx sends (uvicorn refuses longer request lines itself)."""
    response = client.get(path, params={"group_number": "9" * 50_000})

    assert response.status_code == 422
    assert len(response.content) < SMALL_ANSWER
    [error] = response.json()["detail"]
    assert error["loc"] == ["query", "group_number"]
    assert error["input"].startswith("9" * 100) and "50,000 characters" in error["input"]


@pytest.mark.parametrize("path", ["/data?group_number=1", "/groups", "/health"])
@pytest.mark.parametrize("send", ["with Content-Length", "chunked"])
def test_a_10_mb_body_is_a_413_under_10_kb(client: TestClient, path: str, send: str) -> None:
    body = padded_json(TEN_MB)
    response = client.request("GET", path, content=body if send == "with Content-Length" else chunked(body))

    assert response.status_code == 413, response.text[:300]
    assert len(response.content) < SMALL_ANSWER
    assert "COVERTYPE_MAX_BODY_BYTES" in response.json()["detail"]
    assert client.get(path).status_code == 200


def test_health_reports_what_is_served(client: TestClient) -> None:
    response = client.get("/health")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "rows": 15000,
        "groups": 3,
        "batches": 5,
        "batch_interval": 60.0,
    }


def test_openapi_has_title_description_version_and_the_endpoints(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()

    assert schema["info"]["title"] == "covertype data API"
    assert "group_number" in schema["info"]["description"]
    assert schema["info"]["version"] == __version__
    assert {"/data", "/restart_data_generation", "/health"} <= set(schema["paths"])
    data_200 = schema["paths"]["/data"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert data_200 == {"$ref": "#/components/schemas/DataBatch"}
    assert_docs_work_offline(client)


def test_a_dataset_too_small_for_the_schedule_fails_at_start(
    tmp_path: Path, sample_csv: Path, frame: pd.DataFrame
) -> None:
    settings = data_api_settings(tmp_path, sample_csv, batches=10, sample_fraction=0.1)

    with pytest.raises(ValueError, match="leave a poll with no rows"):
        create_app(settings, frame=frame.head(50))


def test_a_bad_dataset_stops_the_server_with_one_clear_message(tmp_path: Path, sample_csv: Path) -> None:
    settings = data_api_settings(tmp_path, sample_csv, data_source=str(tmp_path / "missing.csv"))

    with pytest.raises(SystemExit, match=r"data API cannot start: .*missing\.csv: dataset file not found"):
        serve("data API", create_app, settings, port=0, workers=2, build_first=True)
