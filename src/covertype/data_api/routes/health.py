"""``GET /health``: liveness plus what is being served."""

from __future__ import annotations

from fastapi import APIRouter

from covertype.data_api.deps import ServiceDep
from covertype.data_api.models import Health

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health)
def health(service: ServiceDep) -> Health:
    settings = service.settings
    return Health(
        rows=service.plan.n_rows,
        groups=settings.groups,
        batches=settings.batches,
        batch_interval=settings.batch_interval,
    )
