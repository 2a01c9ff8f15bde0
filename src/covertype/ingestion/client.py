"""Polling the data API: ``GET /data?group_number=N`` with timeouts and retries.

Connection errors, timeouts and 5xx answers are retried with exponential back-off (:func:`poll_retrying`);
a 4xx answer is final.
The 400 whose ``reason`` is :data:`ALL_BATCHES_DELIVERED` is an outcome (:class:`BatchesExhausted`), not an
error.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import httpx
import orjson
from tenacity import (
    RetryError,
    Retrying,
    before_sleep_log,
    retry_if_exception_type,
    stop_after_attempt,
    stop_after_delay,
    stop_all,
    wait_exponential,
)
from tenacity.stop import stop_base

from covertype.settings import Settings

log = logging.getLogger(__name__)

#: The ``reason`` of the data API's 400 for a group whose last batch window has passed (its OpenAPI
#: contract: ``ErrorDetail.reason``); the ``detail`` beside it says the same in words.
ALL_BATCHES_DELIVERED = "all_batches_delivered"


@dataclass(frozen=True)
class Batch:
    """One poll's answer: the group's current batch number and its rows as the API sent them."""

    group_number: int
    batch_number: int
    columns: list[object]
    data: list[object]


@dataclass(frozen=True)
class BatchesExhausted:
    """The data API has delivered every batch of the group."""

    group_number: int
    detail: str


class DataApiError(RuntimeError):
    """The data API could not be reached after the retries, or gave an answer that cannot be used."""


class _ServerError(Exception):
    """A 5xx answer: worth another attempt."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"HTTP {response.status_code}: {_detail(response)}")


def fetch_batch(
    settings: Settings,
    *,
    group: int | None = None,
    client: httpx.Client | None = None,
    wait_for_api: bool = False,
) -> Batch | BatchesExhausted:
    """Poll the data API once for ``group`` (default ``settings.group``), retrying as
    :func:`poll_retrying` says. ``client`` lets tests supply their own transport.
    Raises :class:`DataApiError` when the retries are used up or the answer is unusable.
    """
    group_number = settings.group if group is None else group
    where = f"data API {settings.data_api_url}: GET /data?group_number={group_number}"
    http = client or httpx.Client(base_url=settings.data_api_url, timeout=settings.http_timeout)
    try:
        response = poll_retrying(settings, wait_for_api=wait_for_api)(_get, http, group_number)
    except RetryError as exc:
        cause = exc.last_attempt.exception()
        attempts = exc.last_attempt.attempt_number
        raise DataApiError(
            f"{where} gave up after {attempts} attempt{'s' if attempts != 1 else ''}, "
            f"last: {type(cause).__name__}: {cause}"
        ) from cause
    finally:
        if client is None:
            http.close()
    return _outcome(response, group_number, where)


def poll_retrying(settings: Settings, *, wait_for_api: bool = False) -> Retrying:
    """Retry network errors and 5xx answers ``settings.http_retries`` times in all, ``settings.http_backoff``
    seconds before the second attempt, doubling (capped at 60 s).

    ``wait_for_api`` (the ingest DAG, polling at a window's opening): go on for at least half a batch
    interval too, each wait at most an eighth of it. A data API restarted by its restart policy is back
    within seconds, and the batch is still stored within its interval; giving up after 15 s handed the poll
    to Airflow's retry, whose back-off stored the batch 110 s after its window opened (the topology's data
    API fault, 60 s interval). A person running ``covertype ingest`` gets the answer at once instead.
    """
    stop: stop_base = stop_after_attempt(settings.http_retries)
    longest_wait = 60.0
    if wait_for_api:
        stop = stop_all(stop, stop_after_delay(settings.batch_interval / 2))
        longest_wait = min(longest_wait, settings.batch_interval / 8)
    return Retrying(
        retry=retry_if_exception_type((httpx.TransportError, _ServerError)),
        stop=stop,
        wait=wait_exponential(multiplier=settings.http_backoff, max=longest_wait),
        before_sleep=before_sleep_log(log, logging.WARNING),
    )


@dataclass(frozen=True)
class GroupWindow:
    """A group's schedule as ``GET /groups`` announces it (times timezone-aware, UTC)."""

    group_number: int
    batch_number: int | None
    batches: int
    batch_started_at: datetime | None
    next_batch_at: datetime | None
    finished: bool


def fetch_group_window(settings: Settings, *, client: httpx.Client | None = None) -> GroupWindow:
    """The schedule of ``settings.group`` from ``GET /groups`` (one attempt: callers retry as a whole)."""
    where = f"data API {settings.data_api_url}: GET /groups"
    http = client or httpx.Client(base_url=settings.data_api_url, timeout=settings.http_timeout)
    try:
        response = http.get("/groups")
    except httpx.TransportError as exc:
        raise DataApiError(f"{where}: {type(exc).__name__}: {exc}") from exc
    finally:
        if client is None:
            http.close()
    if response.status_code != 200:
        raise DataApiError(f"{where} answered HTTP {response.status_code}: {_detail(response)}")
    try:
        [entry] = [g for g in orjson.loads(response.content) if g["group_number"] == settings.group]
        return GroupWindow(
            group_number=int(entry["group_number"]),
            batch_number=entry["batch_number"],
            batches=int(entry["batches"]),
            batch_started_at=_timestamp(entry["batch_started_at"]),
            next_batch_at=_timestamp(entry["next_batch_at"]),
            finished=bool(entry["finished"]),
        )
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise DataApiError(
            f"{where} did not announce group {settings.group}: {type(exc).__name__}: {exc}"
        ) from exc


def _timestamp(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value.replace("Z", "+00:00"))


def _get(http: httpx.Client, group_number: int) -> httpx.Response:
    response = http.get("/data", params={"group_number": group_number})
    if response.status_code >= 500:
        raise _ServerError(response)
    return response


def _outcome(response: httpx.Response, group_number: int, where: str) -> Batch | BatchesExhausted:
    if response.status_code >= 400:
        detail = _detail(response)
        if response.status_code == 400 and _error_field(response, "reason") == ALL_BATCHES_DELIVERED:
            return BatchesExhausted(group_number=group_number, detail=detail)
        raise DataApiError(f"{where} answered HTTP {response.status_code}: {detail}")
    try:
        body = orjson.loads(response.content)
        return Batch(
            group_number=int(body["group_number"]),
            batch_number=int(body["batch_number"]),
            columns=list(body["columns"]),
            data=list(body["data"]),
        )
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise DataApiError(
            f"{where} answered a body that is not a batch: {type(exc).__name__}: {exc}"
        ) from exc


def _detail(response: httpx.Response) -> str:
    """The ``detail`` of a FastAPI error answer, or the start of the body."""
    detail = _error_field(response, "detail")
    return str(detail) if detail is not None else response.text[:500]


def _error_field(response: httpx.Response, name: str) -> object:
    """A field of a JSON error answer; None when the body is not a JSON object or lacks it."""
    try:
        return orjson.loads(response.content).get(name)
    except (orjson.JSONDecodeError, AttributeError):
        return None
