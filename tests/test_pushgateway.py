"""The batch jobs' pushes (covertype.pushgateway) against a real Pushgateway process, and ingestion's."""

from __future__ import annotations

import logging
import socket
import time
from pathlib import Path

import pytest

from covertype.ingestion import ingest_once
from covertype.pushgateway import PUSH_TIMEOUT_SECONDS, push_batch_stored, push_training_outcome
from covertype.settings import Settings
from support.prometheus import pushgateway, scraped_samples
from support.store import batch_rows, data_api_answer, fixed_client, sample_frame

# The gateway adds an empty ``instance`` label to every series pushed without one.
INGEST_GROUP_3 = frozenset({("job", "covertype_ingest"), ("group", "3"), ("instance", "")})
INGEST_GROUP_1 = frozenset({("job", "covertype_ingest"), ("group", "1"), ("instance", "")})
TRAIN = frozenset({("job", "covertype_train"), ("instance", "")})


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> str:
    with pushgateway(tmp_path_factory.mktemp("pushgateway")) as url:
        yield url


def _settings(tmp_path: Path, gateway: str, **overrides: object) -> Settings:
    return Settings(data_dir=tmp_path, database_url=None, pushgateway_url=gateway, **overrides)


def test_a_stored_batch_pushes_its_time_the_interval_and_not_delivered(tmp_path: Path, gateway: str) -> None:
    before = time.time()
    push_batch_stored(_settings(tmp_path, gateway, batch_interval=120), group=3)

    samples = scraped_samples(gateway)
    stored_at = samples[("covertype_ingest_last_stored_timestamp_seconds", INGEST_GROUP_3)]
    assert before <= stored_at <= time.time()
    assert samples[("covertype_ingest_batch_interval_seconds", INGEST_GROUP_3)] == 120
    assert samples[("covertype_ingest_all_batches_delivered", INGEST_GROUP_3)] == 0


def test_training_success_and_failure_are_kept_side_by_side(tmp_path: Path, gateway: str) -> None:
    settings = _settings(tmp_path, gateway)
    push_training_outcome(settings, succeeded=True)
    success = scraped_samples(gateway)[("covertype_training_last_success_timestamp_seconds", TRAIN)]
    push_training_outcome(settings, succeeded=False)  # pushadd: replaces only the failure's series

    samples = scraped_samples(gateway)
    assert samples[("covertype_training_last_success_timestamp_seconds", TRAIN)] == success
    assert samples[("covertype_training_last_failure_timestamp_seconds", TRAIN)] >= success


def test_ingest_once_pushes_a_stored_batch_then_all_batches_delivered(
    tmp_path: Path, gateway: str, sample_csv: Path
) -> None:
    settings = _settings(tmp_path, gateway, group=1, data_api_url="http://data-api.test", http_retries=1)
    answer = data_api_answer(batch_rows(sample_frame(sample_csv, 50)))
    exhausted = b'{"detail": "group 1: all 10 batches were delivered", "reason": "all_batches_delivered"}'

    ingest_once(settings, run_id="stored", client=fixed_client(200, answer))
    stored = scraped_samples(gateway)
    ingest_once(settings, run_id="late", client=fixed_client(400, exhausted))
    late = scraped_samples(gateway)

    assert stored[("covertype_ingest_all_batches_delivered", INGEST_GROUP_1)] == 0
    assert late[("covertype_ingest_all_batches_delivered", INGEST_GROUP_1)] == 1
    stamp = ("covertype_ingest_last_stored_timestamp_seconds", INGEST_GROUP_1)
    assert late[stamp] == stored[stamp]  # the stored time stays


def test_an_unreachable_gateway_is_a_warning_not_a_failure(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A gateway that accepts the connection and never answers costs the push timeout, then a warning."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        started = time.monotonic()
        with caplog.at_level(logging.WARNING, logger="covertype.pushgateway"):
            push_training_outcome(_settings(tmp_path, url), succeeded=True)
        elapsed = time.monotonic() - started

    assert elapsed < PUSH_TIMEOUT_SECONDS + 2
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert f"could not push covertype_train metrics to {url}" in record.getMessage()


@pytest.mark.parametrize("url", [None, ""])
def test_no_url_pushes_nothing(tmp_path: Path, caplog: pytest.LogCaptureFixture, url: str | None) -> None:
    with caplog.at_level(logging.DEBUG):
        push_training_outcome(_settings(tmp_path, url), succeeded=True)  # type: ignore[arg-type]
    assert not [r for r in caplog.records if r.name.startswith("covertype")]
