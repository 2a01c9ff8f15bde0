"""One poll end to end: fetch a batch, validate it, store it, log it in ``ingestion_runs``.

This is what ``covertype ingest`` and the ``covertype_ingest`` DAG run. Re-running it is always safe: rows
already stored are skipped by their hash, so a retried poll never loses or duplicates a row.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import httpx
from tenacity import (
    RetryCallState,
    Retrying,
    before_sleep_log,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)

from covertype.ingestion.client import BatchesExhausted, DataApiError, fetch_batch
from covertype.ingestion.validation import validate_batch
from covertype.pushgateway import push_all_batches_delivered, push_batch_stored
from covertype.settings import Settings
from covertype.store.batches import record_exhausted, record_failure, store_batch, utc_now
from covertype.store.engine import Engine, store_engine, store_location
from covertype.store.errors import StoreError, connection_lost, describe

log = logging.getLogger(__name__)


class IngestionFailed(RuntimeError):
    """A poll that stored nothing because the data API or the store failed.

    Its ``ingestion_runs`` row (status ``failed``) says why, unless the store itself cannot be written.
    """


class PollStatus(StrEnum):
    """How a poll that did not fail ended (the words of its ``ingestion_runs`` row)."""

    #: The open batch was stored (new rows or not).
    SUCCESS = "success"
    #: The data API has delivered every batch of the group: nothing to store.
    EXHAUSTED = "exhausted"


@dataclass(frozen=True)
class IngestionResult:
    """The summary of one poll: small enough for an XCom or a log line."""

    run_id: str
    group_number: int
    batch_number: int | None
    status: PollStatus
    rows_received: int = 0
    rows_inserted: int = 0
    duplicates: int = 0
    rejected: int = 0
    detail: str | None = None

    @property
    def exhausted(self) -> bool:
        """All batches of the group were delivered: this poll stored nothing."""
        return self.status is PollStatus.EXHAUSTED

    @property
    def nothing_new(self) -> str | None:
        """Why this poll leaves the champion nothing to score (all batches delivered, no new row); None
        when it stored new rows."""
        if self.exhausted:
            return f"all batches were delivered: {self.detail}"
        if self.rows_inserted == 0:
            return f"batch {self.batch_number}: no new rows ({self.duplicates} duplicates)"
        return None

    def to_dict(self) -> dict[str, object]:
        return asdict(self) | {"status": str(self.status)}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> IngestionResult:
        """The result back from :meth:`to_dict` (an XCom)."""
        return cls(**{**values, "status": PollStatus(values["status"])})


def ingest_once(
    settings: Settings,
    *,
    group: int | None = None,
    run_id: str | None = None,
    engine: Engine | None = None,
    client: httpx.Client | None = None,
    wait_for_api: bool = False,
) -> IngestionResult:
    """Poll the data API once for ``group`` (default ``settings.group``) and store what it answers;
    ``wait_for_api``: keep retrying an unreachable data API for half a batch interval
    (``client.poll_retrying``).

    Returns the summary for a stored batch (``success``) or when all batches were delivered
    (``exhausted``). Raises :class:`IngestionFailed` after writing a ``failed`` run row when the data API
    stays unreachable or answers an error, or when the store rejects the batch (then nothing of it stays).
    """
    run_id = run_id or f"manual__{uuid.uuid4().hex}"
    started_at = utc_now()
    owned = engine is None
    try:
        engine = engine or store_engine(settings)
        return _ingest(
            settings,
            engine,
            group=settings.group if group is None else group,
            run_id=run_id,
            started_at=started_at,
            client=client,
            wait_for_api=wait_for_api,
        )
    except StoreError as exc:  # the store is unreachable or refuses even the run row
        where = store_location(engine.url if engine is not None else settings.database)
        raise IngestionFailed(f"store {where}: {describe(exc)}") from exc
    finally:
        if owned and engine is not None:
            engine.dispose()


def _ingest(
    settings: Settings,
    engine: Engine,
    *,
    group: int,
    run_id: str,
    started_at: datetime,
    client: httpx.Client | None,
    wait_for_api: bool,
) -> IngestionResult:
    try:
        outcome = fetch_batch(settings, group=group, client=client, wait_for_api=wait_for_api)
    except DataApiError as exc:
        _record_failure(
            engine, run_id=run_id, group=group, batch=None, started_at=started_at, errors=[str(exc)]
        )
        raise IngestionFailed(str(exc)) from exc

    if isinstance(outcome, BatchesExhausted):
        record_exhausted(
            engine, run_id=run_id, group_number=group, started_at=started_at, detail=outcome.detail
        )
        push_all_batches_delivered(settings, group)
        return IngestionResult(run_id, group, None, PollStatus.EXHAUSTED, detail=outcome.detail)

    batch = validate_batch(outcome.columns, outcome.data)
    retried = RetriedAttempts(outcome.batch_number)
    try:
        stored = _store_retrying(retried)(
            store_batch,
            engine,
            batch.rows,
            rejected=batch.rejected,
            run_id=run_id,
            group_number=group,
            batch_number=outcome.batch_number,
            received=batch.received,
            started_at=started_at,
        )
    except StoreError as exc:
        error = f"storing batch {outcome.batch_number} of group {group} failed: {describe(exc)}"
        _record_failure(
            engine,
            run_id=run_id,
            group=group,
            batch=outcome.batch_number,
            started_at=started_at,
            errors=[*retried.errors, error],
        )
        raise IngestionFailed(error) from exc
    _record_failure(
        engine,
        run_id=run_id,
        group=group,
        batch=outcome.batch_number,
        started_at=started_at,
        errors=retried.errors,
    )
    if stored.inserted:
        push_batch_stored(settings, group)
    return IngestionResult(
        run_id,
        group,
        outcome.batch_number,
        PollStatus.SUCCESS,
        rows_received=batch.received,
        rows_inserted=stored.inserted,
        duplicates=stored.duplicates,
        rejected=stored.rejected,
    )


#: Attempts at storing a poll when the database connection fails (a server restart, a failover). Storing is
#: one transaction and skips rows already stored, so another attempt never loses or duplicates a row.
STORE_ATTEMPTS = 4


class RetriedAttempts:
    """The failed attempts at storing one batch that were retried, each as its ``ingestion_runs`` error.

    A tenacity ``before_sleep`` callback: it logs the attempt, as tenacity's own would, and keeps why it
    failed. They are written once the store answers again (it did not while they failed).
    """

    def __init__(self, batch_number: int) -> None:
        self.batch_number = batch_number
        self.errors: list[str] = []
        self._log = before_sleep_log(log, logging.WARNING)

    def __call__(self, state: RetryCallState) -> None:
        self._log(state)
        exc = state.outcome.exception() if state.outcome else None
        cause = describe(exc) if isinstance(exc, StoreError) else repr(exc)
        self.errors.append(
            f"attempt {state.attempt_number} of {STORE_ATTEMPTS} storing batch {self.batch_number}: "
            f"{cause}; retried"
        )


def _store_retrying(retried: RetriedAttempts) -> Retrying:
    """Retry lost or refused database connections after 1, 2, 4 s; any other database error is final.

    Each retried attempt is kept in ``retried``."""
    return Retrying(
        retry=retry_if_exception(connection_lost),
        stop=stop_after_attempt(STORE_ATTEMPTS),
        wait=wait_exponential(multiplier=1, max=30),
        before_sleep=retried,
        reraise=True,
    )


def _record_failure(
    engine: Engine, *, run_id: str, group: int, batch: int | None, started_at: datetime, errors: Sequence[str]
) -> None:
    """Log a failed poll, or failed attempts of one, in ``ingestion_runs`` (a ``failed`` row per error).

    Best effort: if the store itself is down, say so in the log only (and write no further row).
    """
    for error in errors:
        try:
            record_failure(
                engine,
                run_id=run_id,
                group_number=group,
                batch_number=batch,
                started_at=started_at,
                error=error,
            )
        except StoreError as exc:
            log.error("could not record the failed poll %s in ingestion_runs: %s", run_id, describe(exc))
            return
