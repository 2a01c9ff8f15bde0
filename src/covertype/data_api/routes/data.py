"""``GET /data`` and ``GET /restart_data_generation``."""

from __future__ import annotations

from fastapi import APIRouter, Response

from covertype.data_api.deps import GroupNumber, ServiceDep
from covertype.data_api.models import DataBatch, ErrorDetail, Restarted

router = APIRouter(tags=["data"])

_ERRORS: dict[int | str, dict[str, object]] = {
    400: {
        "model": ErrorDetail,
        "description": "group outside 1..N (reason `group_out_of_range`), or all batches were delivered "
        "(reason `all_batches_delivered`)",
    }
}


@router.get("/data", response_model=DataBatch, responses=_ERRORS)
def read_data(group_number: GroupNumber, service: ServiceDep) -> Response:
    """A sample of the group's current batch; the same rows for every poll in the batch's window."""
    return Response(service.poll(group_number), media_type="application/json")


@router.get("/restart_data_generation", response_model=Restarted, responses=_ERRORS)
def restart_data_generation(group_number: GroupNumber, service: ServiceDep) -> Restarted:
    """Send the group back to batch 1: its next poll starts the schedule again."""
    service.restart(group_number)
    return Restarted(group_number=group_number, detail="the next poll starts again at batch 1")
