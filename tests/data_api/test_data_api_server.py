"""The data API as users run it: ``covertype data-api`` under uvicorn, several workers, restarts."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from covertype.processes import unused_port
from support.data_api import data_api_server, data_api_settings
from support.hostile_values import NON_FINITE_TOKENS, SMALL_ANSWER, TEN_MB, chunked, padded_json

pytestmark = pytest.mark.slow


def test_four_workers_never_disagree_about_a_groups_batch(tmp_path: Path, sample_csv: Path) -> None:
    """With interval 0 every poll is due, so each poll must take the next batch under the shared lock.

    A lost update between workers would hand out a batch number twice; a worker with its own idea of the
    state would answer a lower number after another worker had already answered a higher one.
    """
    settings = data_api_settings(tmp_path, sample_csv, groups=2, batches=40, batch_interval=0)

    with data_api_server(settings, port=unused_port(), workers=4) as url:

        def poll_many(_: int) -> list[tuple[float, float, int]]:
            seen = []
            with httpx.Client(base_url=url, timeout=30) as client:
                for _ in range(10):
                    sent = time.monotonic()
                    response = client.get("/data", params={"group_number": 2})
                    batch_number = response.json()["batch_number"] if response.status_code == 200 else 0
                    assert response.status_code in (200, 400), response.text
                    seen.append((sent, time.monotonic(), batch_number))
            return seen

        with ThreadPoolExecutor(8) as pool:
            polls = [poll for per_client in pool.map(poll_many, range(8)) for poll in per_client]

    numbers = [n for _, _, n in polls]
    assert sorted(n for n in numbers if n) == list(range(1, 41))
    assert numbers.count(0) == 40  # 400: all batches were delivered
    for sent, _, batch_number in (poll for poll in polls if poll[2]):
        answered_before = [n for _, received, n in polls if received < sent]
        assert 0 not in answered_before, "a batch was served after a worker said all were delivered"
        assert batch_number > max(answered_before, default=0)


def test_a_restarted_server_keeps_each_groups_batch(tmp_path: Path, sample_csv: Path) -> None:
    settings = data_api_settings(tmp_path, sample_csv, batches=5, batch_interval=0)
    port = unused_port()

    with data_api_server(settings, port=port) as url:
        assert [httpx.get(f"{url}/data?group_number=1").json()["batch_number"] for _ in range(3)] == [1, 2, 3]

    with data_api_server(settings, port=port) as url:
        assert httpx.get(f"{url}/data?group_number=1").json()["batch_number"] == 4
        assert httpx.get(f"{url}/data?group_number=2").json()["batch_number"] == 1
        assert httpx.get(f"{url}/data?group_number=1").json()["batch_number"] == 5
        final = httpx.get(f"{url}/data?group_number=1")
    assert final.status_code == 400
    assert "all 5 batches were delivered" in final.json()["detail"]


def test_non_finite_numbers_in_query_and_body_are_a_422_naming_the_field(
    tmp_path: Path, sample_csv: Path
) -> None:
    """Every operation of the served data API: a 422 naming ``group_number`` where it is taken."""
    with data_api_server(data_api_settings(tmp_path, sample_csv), port=unused_port()) as url:
        for token in NON_FINITE_TOKENS:
            for path in ("/data", "/restart_data_generation"):
                answer = httpx.get(f"{url}{path}", params={"group_number": token}, timeout=30)
                assert answer.status_code == 422, answer.text
                assert [error["loc"] for error in answer.json()["detail"]] == [["query", "group_number"]]
            for path in ("/groups", "/health"):
                answer = httpx.request(
                    "GET", f"{url}{path}?group_number={token}", content=token.encode(), timeout=30
                )
                assert answer.status_code == 200, answer.text


def test_a_10_mb_body_is_a_413_under_10_kb_declared_or_chunked(tmp_path: Path, sample_csv: Path) -> None:
    """The served data API takes no body: one over the limit is refused before it is read, even when it
    comes in chunks without a ``Content-Length``."""
    body = padded_json(TEN_MB)
    with data_api_server(data_api_settings(tmp_path, sample_csv), port=unused_port()) as url:
        for content in (body, chunked(body)):
            answer = httpx.request("GET", f"{url}/data?group_number=1", content=content, timeout=30)
            assert answer.status_code == 413, answer.text[:300]
            assert len(answer.content) < SMALL_ANSWER
        assert httpx.get(f"{url}/data?group_number=1", timeout=30).status_code == 200
