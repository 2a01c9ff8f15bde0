"""``GET /groups``: each group's schedule, read only (what the UI's Pipeline page shows)."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field

from covertype.data_api.deps import ServiceDep
from covertype.data_api.state import Progress

router = APIRouter(tags=["groups"])


class GroupStatus(BaseModel):
    group_number: int
    batch_number: int | None = Field(description="current batch; None before the group's first poll")
    batches: int
    batch_started_at: datetime | None
    next_batch_at: datetime | None = Field(
        description="when a poll moves the group on; None before the first poll and after the last batch"
    )
    finished: bool = Field(description="the last batch's window has passed: polls answer 400 until a restart")


@router.get("/groups", response_model=list[GroupStatus])
def groups(service: ServiceDep) -> list[GroupStatus]:
    """Every group's current batch and when its next one opens; polling nothing, changing nothing."""
    settings = service.settings
    return [
        _status(group_number, settings.batches, service.schedule.progress(group_number))
        for group_number in range(1, settings.groups + 1)
    ]


def _status(group_number: int, batches: int, progress: Progress) -> GroupStatus:
    window = progress.window
    return GroupStatus(
        group_number=group_number,
        batch_number=None if window is None else window.batch_number,
        batches=batches,
        batch_started_at=None if window is None else _utc(window.started_at),
        next_batch_at=None if progress.next_batch_at is None else _utc(progress.next_batch_at),
        finished=progress.finished,
    )


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)
