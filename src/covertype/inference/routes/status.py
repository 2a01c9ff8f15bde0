"""``GET /health``, ``GET /ready`` and ``GET /metrics``."""

from __future__ import annotations

from fastapi import APIRouter, Response

from covertype.http_metrics import metrics_response
from covertype.inference.deps import BatchQualityDep, HolderDep, MetricsDep
from covertype.inference.routes._json import json_response
from covertype.inference.schemas import ServiceStatus

router = APIRouter(tags=["status"])


@router.get("/health")
async def health() -> ServiceStatus:
    """The process answers (at once, whether or not a model is loaded)."""
    return ServiceStatus(status="ok")


@router.get("/ready", response_model=ServiceStatus, responses={503: {"model": ServiceStatus}})
async def ready(holder: HolderDep) -> Response:
    """200 once a model is loaded; 503 until then: ``loading`` during the first try, ``unavailable`` with
    the reason once a try failed (the registry cannot be reached, the alias is unset, ...)."""
    served = holder.current
    if served is None:
        status = "loading" if holder.loading else "unavailable"
        return json_response({"status": status, "detail": holder.unavailable_reason()}, status_code=503)
    return json_response({"status": "ready", "detail": f"serving {served.name} version {served.version}"})


@router.get("/metrics", response_class=Response)
async def metrics(service_metrics: MetricsDep, holder: HolderDep, quality: BatchQualityDep) -> Response:
    """Prometheus text format; the ``covertype_champion_batch_*`` gauges are at most
    ``COVERTYPE_MODEL_POLL_INTERVAL`` seconds old."""
    served = holder.current
    if served is not None:
        await quality.latest(served.version)
    return metrics_response(service_metrics.registry)
