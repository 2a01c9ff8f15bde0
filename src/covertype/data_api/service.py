"""What the endpoints do, free of HTTP: check the group, consult the schedule, return the window's body."""

from __future__ import annotations

import pandas as pd

from covertype.data_api.batches import BatchPlan
from covertype.data_api.metrics import DataApiMetrics, PollOutcome
from covertype.data_api.payloads import BatchPayloads
from covertype.data_api.state import AllBatchesDelivered, Clock, GroupSchedule
from covertype.settings import Settings


class GroupOutOfRange(ValueError):
    """A group number the API does not serve."""

    def __init__(self, group_number: int, groups: int) -> None:
        super().__init__(f"group_number {group_number} is outside 1..{groups}")


class DataService:
    """Batches per group on a timed schedule; the one object the routes talk to."""

    def __init__(
        self, settings: Settings, frame: pd.DataFrame, *, clock: Clock, metrics: DataApiMetrics
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self.plan = BatchPlan(
            n_rows=len(frame),
            batches=settings.batches,
            sample_fraction=settings.sample_fraction,
            seed=settings.seed,
        )
        self.payloads = BatchPayloads(frame, self.plan, cache_size=min(4 * settings.groups, 256))
        self.schedule = GroupSchedule(
            settings.state_file, batches=settings.batches, interval=settings.batch_interval, clock=clock
        )

    def poll(self, group_number: int) -> bytes:
        """The encoded ``GET /data`` body for the group's current window.

        Raises :class:`GroupOutOfRange` or :class:`AllBatchesDelivered`.
        """
        try:
            self._check(group_number)
        except GroupOutOfRange:
            self.metrics.poll(None, PollOutcome.OUT_OF_RANGE)
            raise
        try:
            window = self.schedule.poll(group_number)
        except AllBatchesDelivered:
            self.metrics.poll(group_number, PollOutcome.EXHAUSTED)
            raise
        self.metrics.poll(group_number, PollOutcome.NEW_BATCH if window.opened else PollOutcome.SAME_BATCH)
        return self.payloads.body(group_number, window.batch_number)

    def restart(self, group_number: int) -> None:
        """Send the group back to batch 1 (from its next poll on)."""
        self._check(group_number)
        self.schedule.restart(group_number)

    def _check(self, group_number: int) -> None:
        if not 1 <= group_number <= self.settings.groups:
            raise GroupOutOfRange(group_number, self.settings.groups)


__all__ = ["AllBatchesDelivered", "Clock", "DataService", "GroupOutOfRange"]
