"""One poll end to end: fetch a batch, validate it, store it, log it in ``ingestion_runs``.

This is what ``covertype ingest`` and the ``covertype_ingest`` DAG run. Re-running it is always safe: rows
already stored are skipped by their hash, so a retried poll never loses or duplicates a row.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime

import httpx
from sqlalchemy import Engine, make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from tenacity import Retrying, before_sleep_log, retry_if_exception, stop_after_attempt, wait_exponential

from covertype.ingestion.client import BatchesExhausted, DataApiError, fetch_batch
from covertype.ingestion.validation import validate_batch
from covertype.settings import Settings
from covertype.store.batches import RunStatus, record_run, store_batch, utc_now
from covertype.store.engine import store_engine

log = logging.getLogger(__name__)


class IngestionFailed(RuntimeError):
    """A poll that stored nothing because the data API or the store failed.

    Its ``ingestion_runs`` row (status ``failed``) says why, unless the store itself cannot be written.
    """


@dataclass(frozen=True)
class IngestionResult:
    """The summary of one poll: small enough for an XCom or a log line."""

    run_id: str
    group_number: int
    batch_number: int | None
    status: RunStatus
    rows_received: int = 0
    rows_inserted: int = 0
    duplicates: int = 0
    rejected: int = 0
    detail: str | None = None

    def as_dict(self) -> dict[str, object]:
        return asdict(self) | {"status": str(self.status)}


def ingest_once(
    settings: Settings,
    *,
    run_id: str | None = None,
    engine: Engine | None = None,
    client: httpx.Client | None = None,
) -> IngestionResult:
    """Poll the data API once for ``settings.group`` and store what it answers.

    Returns the summary for a stored batch (``success``) or when all batches were delivered
    (``exhausted``). Raises :class:`IngestionFailed` after writing a ``failed`` run row when the data API
    stays unreachable or answers an error, or when the store rejects the batch (then nothing of it stays).
    """
    run_id = run_id or f"manual__{uuid.uuid4().hex}"
    started_at = utc_now()
    owned = engine is None
    try:
        engine = engine or store_engine(settings)
        return _ingest(settings, engine, run_id=run_id, started_at=started_at, client=client)
    except SQLAlchemyError as exc:  # the store is unreachable or refuses even the run row
        url = engine.url if engine is not None else make_url(settings.database)
        raise IngestionFailed(f"store {url.render_as_string(hide_password=True)}: {_describe(exc)}") from exc
    finally:
        if owned and engine is not None:
            engine.dispose()


def _ingest(
    settings: Settings, engine: Engine, *, run_id: str, started_at: datetime, client: httpx.Client | None
) -> IngestionResult:
    group = settings.group
    try:
        outcome = fetch_batch(settings, client=client)
    except DataApiError as exc:
        _record_failure(engine, run_id=run_id, group=group, batch=None, started_at=started_at, error=str(exc))
        raise IngestionFailed(str(exc)) from exc

    if isinstance(outcome, BatchesExhausted):
        with engine.begin() as connection:
            record_run(
                connection,
                run_id=run_id,
                group_number=group,
                batch_number=None,
                status=RunStatus.EXHAUSTED,
                started_at=started_at,
                finished_at=utc_now(),
                error=outcome.detail,
            )
        return IngestionResult(run_id, group, None, RunStatus.EXHAUSTED, detail=outcome.detail)

    batch = validate_batch(outcome.columns, outcome.data)
    try:
        stored = _store_retrying()(
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
    except SQLAlchemyError as exc:
        error = f"storing batch {outcome.batch_number} of group {group} failed: {_describe(exc)}"
        _record_failure(
            engine, run_id=run_id, group=group, batch=outcome.batch_number, started_at=started_at, error=error
        )
        raise IngestionFailed(error) from exc
    return IngestionResult(
        run_id,
        group,
        outcome.batch_number,
        RunStatus.SUCCESS,
        rows_received=batch.received,
        rows_inserted=stored.inserted,
        duplicates=stored.duplicates,
        rejected=stored.rejected,
    )


#: Attempts at storing a poll when the database connection fails (a server restart, a failover). Storing is
#: one transaction and skips rows already stored, so another attempt never loses or duplicates a row.
STORE_ATTEMPTS = 4


def _store_retrying() -> Retrying:
    """Retry lost or refused database connections after 1, 2, 4 s; any other database error is final."""
    return Retrying(
        retry=retry_if_exception(_connection_failed),
        stop=stop_after_attempt(STORE_ATTEMPTS),
        wait=wait_exponential(multiplier=1, max=30),
        before_sleep=before_sleep_log(log, logging.WARNING),
        reraise=True,
    )


#: MySQL client errors of a server that cannot be reached or went away (2003, 2006, 2013).
_CONNECTION_ERRORS = frozenset({2003, 2006, 2013})


def _connection_failed(exc: BaseException) -> bool:
    if not isinstance(exc, DBAPIError):
        return False
    code = exc.orig.args[0] if exc.orig is not None and exc.orig.args else None
    return exc.connection_invalidated or code in _CONNECTION_ERRORS


def _record_failure(
    engine: Engine, *, run_id: str, group: int, batch: int | None, started_at: datetime, error: str
) -> None:
    """Log a failed poll in ``ingestion_runs``; if the store itself is down, say so in the log only."""
    try:
        with engine.begin() as connection:
            record_run(
                connection,
                run_id=run_id,
                group_number=group,
                batch_number=batch,
                status=RunStatus.FAILED,
                started_at=started_at,
                finished_at=utc_now(),
                error=error,
            )
    except SQLAlchemyError as exc:
        log.error("could not record the failed poll %s in ingestion_runs: %s", run_id, _describe(exc))


def _describe(exc: SQLAlchemyError) -> str:
    """The driver's message without the statement (a batch's SQL runs to megabytes)."""
    cause = exc.orig if isinstance(exc, DBAPIError) else exc
    return f"{type(cause).__name__}: {cause}"
