"""The real server (``covertype inference-api``) follows the alias without a restart or a failed request."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest

from covertype.dataset import load_dataset
from covertype.registry.client import mlflow_client
from covertype.settings import Settings
from support.hostile_values import (
    NON_FINITE_TOKENS,
    SMALL_ANSWER,
    TEN_MB,
    chunked,
    json_with_token,
    padded_json,
)
from support.inference import GOOD, inference_server, registry_settings, train_version

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory, sample_csv: Path) -> Settings:
    """Version 1 (champion) and version 2 (challenger) of the model, trained by the pipeline."""
    frame: pd.DataFrame = load_dataset(sample_csv).iloc[:3_000]
    settings = registry_settings(tmp_path_factory.mktemp("registry"), model_poll_interval=1.0)
    train_version(settings, frame, candidates="logreg")
    unbeatable = settings.model_copy(update={"promotion_margin": 1.0})  # version 2 stays a challenger
    train_version(unbeatable, frame, candidates="hgb")
    return settings


@pytest.fixture(scope="module")
def server(settings: Settings) -> Iterator[str]:
    with inference_server(settings) as url:
        yield url


class Traffic:
    """Clients that post records back to back and record (status, model version) per client."""

    def __init__(self, url: str, clients: int = 4) -> None:
        self.url = url
        self.seen: list[list[tuple[int, str | None]]] = [[] for _ in range(clients)]
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._post, args=(log,)) for log in self.seen]

    def __enter__(self) -> Traffic:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def _post(self, log: list[tuple[int, str | None]]) -> None:
        with httpx.Client(base_url=self.url, timeout=10) as client:
            while not self._stop.is_set():
                response = client.post("/predict", json=GOOD)
                log.append((response.status_code, response.json().get("model_version")))

    def versions(self) -> set[str | None]:
        return {version for log in self.seen for _, version in log}


def wait_for(condition, timeout: float) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout} s")
        time.sleep(0.05)


def test_moving_the_alias_swaps_the_model_while_requests_keep_succeeding(
    server: str, settings: Settings
) -> None:
    registry = mlflow_client(settings)
    with Traffic(server) as traffic:
        wait_for(lambda: "1" in traffic.versions(), timeout=10)
        registry.set_registered_model_alias("covertype", "champion", "2")
        wait_for(lambda: "2" in traffic.versions(), timeout=60)
        time.sleep(0.5)
    answers = [answer for log in traffic.seen for answer in log]
    assert {status for status, _ in answers} == {200}, "a request failed during the swap"
    assert traffic.versions() == {"1", "2"}
    for log in traffic.seen:  # each client sees version 1, then only version 2
        versions = [version for _, version in log]
        assert versions == sorted(versions)
    assert httpx.get(f"{server}/model").json()["version"] == "2"
    assert 'version="2"' in httpx.get(f"{server}/metrics").text

    registry.set_registered_model_alias("covertype", "champion", "1")
    reload = httpx.post(f"{server}/model/reload", timeout=60)
    assert reload.status_code == 200
    assert reload.json()["model"]["version"] == "1"
    assert httpx.post(f"{server}/predict", json=GOOD).json()["model_version"] == "1"


@pytest.mark.parametrize("token", NON_FINITE_TOKENS)
def test_non_finite_numbers_are_a_422_naming_the_field(server: str, token: str) -> None:
    """``NaN``, ``Infinity``, ``1e999`` ... as raw JSON tokens, single and in a batch: a 422, never a 500."""
    headers = {"content-type": "application/json"}
    for field in ("Elevation", "Hillshade_3pm"):
        single = httpx.post(
            f"{server}/predict", content=json_with_token(GOOD, (field,), token), headers=headers, timeout=30
        )
        assert single.status_code == 422, single.text
        assert [error["loc"] for error in single.json()["detail"]] == [["body", field]]

        batch = {"records": [dict(GOOD) for _ in range(3)]}
        answer = httpx.post(
            f"{server}/predict/batch",
            content=json_with_token(batch, ("records", 2, field), token),
            headers=headers,
            timeout=30,
        )
        assert answer.status_code == 422, answer.text
        assert [error["loc"] for error in answer.json()["detail"]] == [["body", "records", 2, field]]
    # a hostile body where none is expected changes nothing
    reload = httpx.post(f"{server}/model/reload", content=token.encode(), headers=headers, timeout=60)
    assert reload.status_code == 200, reload.text


def test_a_10_mb_body_is_a_413_under_10_kb_declared_or_chunked(server: str) -> None:
    """Refused before it is read, also when it comes in chunks without a ``Content-Length``; the server
    answers the next request as before."""
    body = padded_json(TEN_MB)
    headers = {"content-type": "application/json"}
    for path in ("/predict", "/predict/batch"):
        for content in (body, chunked(body)):
            answer = httpx.post(f"{server}{path}", content=content, headers=headers, timeout=30)
            assert answer.status_code == 413, answer.text[:300]
            assert len(answer.content) < SMALL_ANSWER
            assert "COVERTYPE_MAX_BODY_BYTES" in answer.json()["detail"]
    assert httpx.post(f"{server}/predict", json=GOOD, timeout=30).status_code == 200
