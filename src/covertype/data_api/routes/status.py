"""``GET /metrics``: Prometheus text format."""

from __future__ import annotations

from fastapi import APIRouter, Response

from covertype.data_api.deps import ServiceDep
from covertype.http_metrics import metrics_response

router = APIRouter(tags=["status"])


@router.get("/metrics", response_class=Response)
def metrics(service: ServiceDep) -> Response:
    """Requests and latency by endpoint, polls by group and outcome, every group's current batch."""
    service.metrics.read_schedule(service.schedule, service.settings.groups)
    return metrics_response(service.metrics.registry)
