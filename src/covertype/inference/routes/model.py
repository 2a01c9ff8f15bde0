"""``GET /model`` and ``POST /model/reload``."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool

from covertype.inference.batch_quality import latest_batch_info
from covertype.inference.deps import BatchQualityDep, HolderDep, ServedModelDep, require_token
from covertype.inference.schemas import ReloadResponse, ServedModelInfo, ServiceStatus

router = APIRouter(prefix="/model", tags=["model"])


@router.get("", responses={503: {"model": ServiceStatus}})
async def served_model(served: ServedModelDep, quality: BatchQualityDep) -> ServedModelInfo:
    """The registered model version being served, its evaluation metrics, and how it did on the latest
    batch it scored before training on it (``latest_batch``, null when none)."""
    return served.info(latest_batch_info(await quality.latest(served.version)))


@router.post(
    "/reload",
    dependencies=[Depends(require_token)],
    responses={401: {"model": ServiceStatus}, 503: {"model": ServiceStatus}},
)
async def reload_model(holder: HolderDep, quality: BatchQualityDep) -> ReloadResponse:
    """Check the alias now and load its version if it changed (instead of waiting for the next poll);
    the served version's latest batch quality is read again too."""
    changed = await run_in_threadpool(holder.reload)
    served = holder.require()
    latest = await run_in_threadpool(quality.refresh, served.version)
    return ReloadResponse(changed=changed, model=served.info(latest_batch_info(latest)))
