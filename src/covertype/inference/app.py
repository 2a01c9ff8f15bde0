"""The FastAPI application factory of the inference API."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from http import HTTPStatus

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException as StarletteHTTPException

from covertype import __version__
from covertype.http_metrics import RequestMetricsMiddleware, endpoint_paths
from covertype.inference.batch_quality import ChampionBatchQuality
from covertype.inference.metrics import ServiceMetrics
from covertype.inference.model_holder import ModelHolder, ModelUnavailable, ReloadFailed, ServedModel
from covertype.inference.prediction_log import PredictionLog
from covertype.inference.routes import model, predictions
from covertype.inference.routes import status as status_routes
from covertype.inference.service import BatchTooLarge, PredictionService
from covertype.settings import Settings
from covertype.store.engine import store_engine
from covertype.validation_errors import BodySizeLimit, unprocessable

logger = logging.getLogger(__name__)

DESCRIPTION = """
Cover-type predictions from the registry's champion model
(`models:/<COVERTYPE_MODEL_NAME>@<COVERTYPE_MODEL_ALIAS>`).

The service answers `/health` at once and loads the model in the background; `/ready` is 503 until it is
loaded. It checks the alias every `COVERTYPE_MODEL_POLL_INTERVAL` seconds and swaps to a new version
without failing a request; `POST /model/reload` checks at once. Every answer is logged to the store's
`predictions` table by a background writer.

`GET /model` and `/metrics` also tell how the served version did on the latest batch it scored before any
training saw it (accuracy, drift score, drifted features: the ingestion's test-then-train evaluation in the
store's `batch_quality` table), read when the version loads and at most every
`COVERTYPE_MODEL_POLL_INTERVAL` seconds after.
"""


def create_app(settings: Settings) -> FastAPI:
    """Build the app; the model loads and the prediction log starts when the app starts (lifespan)."""
    metrics = ServiceMetrics()
    engine = store_engine(settings)
    batch_quality = ChampionBatchQuality(engine, metrics, ttl=settings.model_poll_interval)

    def serving(served: ServedModel) -> None:
        metrics.serving(served.name, served.version, served.alias, served.metrics.get("holdout_accuracy"))
        batch_quality.refresh(served.version)

    holder = ModelHolder(settings, on_change=serving)
    log = PredictionLog(engine, metrics)
    service = PredictionService(holder, log, metrics, max_batch_records=settings.max_batch_records)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        log.start()
        holder.start()
        try:
            yield
        finally:
            holder.stop()
            service.close()
            log.stop()

    app = FastAPIOffline(  # Swagger UI assets served locally: /docs works without internet
        title="covertype inference API", description=DESCRIPTION, version=__version__, lifespan=lifespan
    )
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.holder = holder
    app.state.batch_quality = batch_quality
    app.state.service = service
    for router in (predictions.router, model.router, status_routes.router):
        app.include_router(router)
    endpoints = endpoint_paths(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    # added last, so outermost: the 413s of the body limit are counted too
    app.add_middleware(RequestMetricsMiddleware, metrics=metrics, endpoints=endpoints)
    app.add_exception_handler(ModelUnavailable, _answer(status.HTTP_503_SERVICE_UNAVAILABLE))
    app.add_exception_handler(ReloadFailed, _answer(status.HTTP_503_SERVICE_UNAVAILABLE))
    app.add_exception_handler(BatchTooLarge, _answer(status.HTTP_413_CONTENT_TOO_LARGE))
    app.add_exception_handler(RequestValidationError, unprocessable)  # type: ignore[arg-type]  # Starlette types a handler's exception as Exception; it gets the class it is registered for
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]  # Starlette types a handler's exception as Exception; it gets the class it is registered for
    app.add_exception_handler(Exception, _unexpected)
    return app


def _answer(status_code: int) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
    async def handler(_: Request, exc: Exception) -> JSONResponse:
        return _status_answer(status_code, str(exc))

    return handler


async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
    """HTTP errors (401, 404, ...) in the documented ``ServiceStatus`` shape, headers kept."""
    return _status_answer(exc.status_code, str(exc.detail), headers=exc.headers)


def _status_answer(status_code: int, detail: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    """An error in the documented ``ServiceStatus`` shape: ``status`` (the phrase) and ``detail``."""
    phrase = HTTPStatus(status_code).phrase.lower()
    return JSONResponse(
        status_code=status_code, content={"status": phrase, "detail": detail}, headers=headers
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    """Last resort: a JSON answer instead of a bare traceback page; the cause goes to the log."""
    logger.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse(status_code=500, content={"detail": f"internal error ({type(exc).__name__})"})
