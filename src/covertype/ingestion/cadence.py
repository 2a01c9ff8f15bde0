"""When to poll: as soon as the group's next batch window opens, never a whole interval later.

The data API moves a group on at the first poll ``COVERTYPE_BATCH_INTERVAL`` seconds after its batch began,
and ``GET /groups`` announces that moment (``next_batch_at``). Polling on a fixed schedule of the same
length drifts against it: a poll landing a second before the opening brings nothing new and the batch
waits a whole extra interval. So each ingestion run asks when the next window opens and polls right then;
the ``covertype_ingest`` DAG waits for that moment without holding a worker slot
(:mod:`covertype.orchestration.window_sensor`) and the ingest task sleeps the last few seconds.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx

from covertype.ingestion.client import fetch_group_window
from covertype.settings import Settings
from covertype.store.engine import Engine, store_engine
from covertype.store.reads import last_stored_batch

#: Polls go this long after the announced opening, so that the data API surely finds the window due.
OPENING_MARGIN = timedelta(seconds=0.5)
#: Once every batch of the group was delivered, ``GET /groups`` is asked again every this many batch
#: intervals (not polled: nothing comes until the group is restarted).
RESTART_RECHECK_INTERVALS = 10


@dataclass(frozen=True)
class PollPlan:
    """When the next poll of the group brings something new, and why then.

    ``finished``: every batch was delivered, and ``poll_at`` is when to ask ``GET /groups`` again
    whether the group was restarted, not a poll.
    """

    group_number: int
    poll_at: datetime
    reason: str
    finished: bool = False

    def to_dict(self) -> dict[str, object]:
        return {
            "group_number": self.group_number,
            "poll_at": self.poll_at.isoformat(),
            "reason": self.reason,
            "finished": self.finished,
        }

    @classmethod
    def from_dict(cls, values: dict[str, object]) -> PollPlan:
        return cls(
            int(str(values["group_number"])),
            datetime.fromisoformat(str(values["poll_at"])),
            str(values["reason"]),
            bool(values.get("finished", False)),
        )


def plan_next_poll(
    settings: Settings,
    *,
    engine: Engine | None = None,
    client: httpx.Client | None = None,
    now: datetime | None = None,
) -> PollPlan:
    """Decide when to poll ``settings.group`` next, from ``GET /groups`` and the store's last batch.

    Now when the group has not started or its open batch is not stored yet (a new deployment, a failed
    poll); otherwise just after the next window opens (the end of the last window: then the poll learns
    that all batches were delivered). Once the group is finished, a ``finished`` plan: look again
    :data:`RESTART_RECHECK_INTERVALS` intervals later whether the group was restarted.
    """
    window = fetch_group_window(settings, client=client)
    now = now or datetime.now(UTC)
    group = window.group_number
    interval = timedelta(seconds=settings.batch_interval)
    if window.batch_number is None:
        return PollPlan(group, now, "the group has not started: the first poll opens batch 1")
    if window.finished:
        recheck = now + interval * RESTART_RECHECK_INTERVALS
        return PollPlan(
            group,
            recheck,
            f"all {window.batches} batches were delivered; GET /groups again at {recheck} "
            f"(every {RESTART_RECHECK_INTERVALS} intervals) until the group is restarted",
            finished=True,
        )
    owned = engine is None
    engine = engine or store_engine(settings)
    try:
        stored = last_stored_batch(engine, group_number=group)
    finally:
        if owned:
            engine.dispose()
    if stored != window.batch_number:
        return PollPlan(group, now, f"batch {window.batch_number} is open and not stored yet")
    opens = window.next_batch_at or (window.batch_started_at or now) + interval
    what = f"batch {window.batch_number + 1}" if window.next_batch_at else "the end of the last batch"
    return PollPlan(
        group, max(opens + OPENING_MARGIN, now), f"batch {window.batch_number} is stored; {what} at {opens}"
    )


def wait_for_poll(plan: PollPlan, *, longest: timedelta) -> float:
    """Sleep until ``plan.poll_at``, but at most ``longest``; the seconds slept."""
    seconds = min((plan.poll_at - datetime.now(UTC)).total_seconds(), longest.total_seconds())
    if seconds > 0:
        time.sleep(seconds)
    return max(seconds, 0.0)
