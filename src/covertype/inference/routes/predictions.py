"""``POST /predict`` and ``POST /predict/batch``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from covertype.inference.deps import ServiceDep
from covertype.inference.routes._json import json_response
from covertype.inference.schemas import BatchRequest, BatchResponse, CoverFeatures, Prediction, ServiceStatus

router = APIRouter(prefix="/predict", tags=["predictions"])

_UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {"model": ServiceStatus, "description": "no model is loaded yet"}
}
_BODY_TOO_LARGE = "a body over COVERTYPE_MAX_BODY_BYTES (refused before it is read)"


@router.post(
    "",
    response_model=Prediction,
    responses={**_UNAVAILABLE, 413: {"model": ServiceStatus, "description": _BODY_TOO_LARGE}},
)
async def predict(record: CoverFeatures, service: ServiceDep) -> Response:
    """Classify one record with the champion model."""
    return json_response(await service.predict_one(record.as_row()))


@router.post(
    "/batch",
    response_model=BatchResponse,
    responses={
        **_UNAVAILABLE,
        413: {"model": ServiceStatus, "description": f"more records than allowed, or {_BODY_TOO_LARGE}"},
    },
)
async def predict_batch(batch: BatchRequest, service: ServiceDep) -> Response:
    """Classify several records in one model call (at most ``COVERTYPE_MAX_BATCH_RECORDS``)."""
    rows = (record.as_row() for record in batch.records)
    answers = await service.predict_many(list(zip(*rows, strict=True)))
    return json_response({"predictions": answers})
