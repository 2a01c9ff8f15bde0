"""``GET /groups``: each group's schedule, read only (what the UI's Pipeline page shows)."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field

from covertype.data_api.deps import ServiceDep

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
    settings, schedule = service.settings, service.schedule
    now = schedule.now()
    statuses = []
    for group_number in range(1, settings.groups + 1):
        window = schedule.peek(group_number)
        if window is None:
            statuses.append(
                GroupStatus(
                    group_number=group_number,
                    batch_number=None,
                    batches=settings.batches,
                    batch_started_at=None,
                    next_batch_at=None,
                    finished=False,
                )
            )
            continue
        ends = window.started_at + settings.batch_interval
        last = window.batch_number >= settings.batches
        statuses.append(
            GroupStatus(
                group_number=group_number,
                batch_number=window.batch_number,
                batches=settings.batches,
                batch_started_at=datetime.fromtimestamp(window.started_at, UTC),
                next_batch_at=None if last else datetime.fromtimestamp(ends, UTC),
                finished=last and ends <= now,
            )
        )
    return statuses
