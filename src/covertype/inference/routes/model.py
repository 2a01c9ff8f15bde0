"""``GET /model`` and ``POST /model/reload``."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool

from covertype.inference.deps import HolderDep, ServedModelDep, require_token
from covertype.inference.schemas import ReloadResponse, ServedModelInfo, ServiceStatus

router = APIRouter(prefix="/model", tags=["model"])


@router.get("", responses={503: {"model": ServiceStatus}})
async def served_model(served: ServedModelDep) -> ServedModelInfo:
    """The registered model version being served and its evaluation metrics."""
    return served.info()


@router.post(
    "/reload",
    dependencies=[Depends(require_token)],
    responses={401: {"model": ServiceStatus}, 503: {"model": ServiceStatus}},
)
async def reload_model(holder: HolderDep) -> ReloadResponse:
    """Check the alias now and load its version if it changed (instead of waiting for the next poll)."""
    changed = await run_in_threadpool(holder.reload)
    return ReloadResponse(changed=changed, model=holder.require().info())
