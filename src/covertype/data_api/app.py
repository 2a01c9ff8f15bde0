"""The FastAPI application factory of the data API."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import pandas as pd
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline

from covertype import __version__
from covertype.data_api.metrics import DataApiMetrics
from covertype.data_api.models import ErrorDetail, ErrorReason
from covertype.data_api.routes import data, groups, health, status
from covertype.data_api.service import AllBatchesDelivered, Clock, DataService, GroupOutOfRange
from covertype.dataset import load_dataset
from covertype.http_metrics import RequestMetricsMiddleware, endpoint_paths
from covertype.settings import Settings
from covertype.validation_errors import BodySizeLimit, unprocessable

DESCRIPTION = """
Forest cover-type samples handed out per group on a timed schedule.

The dataset is shuffled once with `COVERTYPE_SEED` and cut into `COVERTYPE_BATCHES` slices. A poll of
`GET /data?group_number=N` returns a sample (`COVERTYPE_SAMPLE_FRACTION`) of the group's current slice;
repeated polls in the same window return the same rows. The group moves to its next batch on the first
poll at least `COVERTYPE_BATCH_INTERVAL` seconds after its current batch began; after the last batch
polls answer 400 with the reason `all_batches_delivered` until `GET /restart_data_generation?group_number=N`.
"""


def create_app(settings: Settings, *, clock: Clock = time.time, frame: pd.DataFrame | None = None) -> FastAPI:
    """Build the app; loads ``settings.data_source`` unless a canonical ``frame`` is given.

    ``clock`` returns seconds (wall time by default, so windows survive a restart); tests pass a fake.
    """
    dataset = load_dataset(settings.data_source) if frame is None else frame
    app = FastAPIOffline(  # Swagger UI assets served locally: /docs works without internet
        title="covertype data API", description=DESCRIPTION, version=__version__
    )
    metrics = DataApiMetrics()
    app.state.data_service = DataService(settings, dataset, clock=clock, metrics=metrics)
    for router in (data.router, health.router, groups.router, status.router):
        app.include_router(router)
    endpoints = endpoint_paths(app)
    app.add_exception_handler(GroupOutOfRange, _bad_request(ErrorReason.GROUP_OUT_OF_RANGE))
    app.add_exception_handler(AllBatchesDelivered, _bad_request(ErrorReason.ALL_BATCHES_DELIVERED))
    app.add_exception_handler(RequestValidationError, unprocessable)  # type: ignore[arg-type]  # Starlette types a handler's exception as Exception; it gets the class it is registered for
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    # added last, so outermost: the 413s of the body limit are counted too
    app.add_middleware(RequestMetricsMiddleware, metrics=metrics, endpoints=endpoints)
    return app


def _bad_request(reason: ErrorReason) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
    """A handler answering 400 with an :class:`ErrorDetail`: the exception's message and ``reason``."""

    async def handler(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(
            status_code=400, content=ErrorDetail(detail=str(exc), reason=reason).model_dump(mode="json")
        )

    return handler
