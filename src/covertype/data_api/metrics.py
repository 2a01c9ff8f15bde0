"""Prometheus series of the data API, one registry per application.

Requests and latency by endpoint (:mod:`covertype.http_metrics`; a non-integer group is a 422 there),
polls by group and outcome, and each group's current batch, read from the shared schedule when scraped
(so every worker reports the same schedule; the counters are each worker's own).
"""

from __future__ import annotations

from enum import StrEnum

from prometheus_client import Counter, Gauge

from covertype.data_api.state import GroupSchedule
from covertype.http_metrics import HttpMetrics

#: Latency buckets in seconds: a poll encodes thousands of rows (tens of milliseconds), cached after.
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: The ``group`` label of polls for a group the API does not serve (any number: one label, not one each).
OTHER_GROUP = "other"


class PollOutcome(StrEnum):
    """What a ``GET /data`` poll got."""

    #: The poll opened the group's next batch window (or its first): a batch served.
    NEW_BATCH = "new_batch"
    #: The window was still open: the same rows again.
    SAME_BATCH = "same_batch"
    #: The last window had passed: 400 ``all_batches_delivered``.
    EXHAUSTED = "exhausted"
    #: 400 ``group_out_of_range`` (``group`` is :data:`OTHER_GROUP`).
    OUT_OF_RANGE = "out_of_range"


class DataApiMetrics(HttpMetrics):
    def __init__(self) -> None:
        super().__init__(_LATENCY_BUCKETS)
        self.polls = Counter(
            "covertype_data_polls",
            "GET /data polls by group and outcome: new_batch (a batch served), same_batch, exhausted, "
            "out_of_range",
            ["group", "outcome"],
            registry=self.registry,
        )
        self.group_batch = Gauge(
            "covertype_data_group_batch",
            "The group's current batch number (0 before its first poll)",
            ["group"],
            registry=self.registry,
        )
        self.group_finished = Gauge(
            "covertype_data_group_finished",
            "1 once the group's last batch window has passed (polls answer 400 until a restart)",
            ["group"],
            registry=self.registry,
        )

    def poll(self, group: int | None, outcome: PollOutcome) -> None:
        """Count one poll of ``group`` (None: a group outside the served range)."""
        self.polls.labels(group=OTHER_GROUP if group is None else str(group), outcome=outcome).inc()

    def read_schedule(self, schedule: GroupSchedule, groups: int) -> None:
        """Set every group's batch gauges from the schedule (called when scraped)."""
        for group in range(1, groups + 1):
            progress = schedule.progress(group)
            label = str(group)
            self.group_batch.labels(group=label).set(
                0 if progress.window is None else progress.window.batch_number
            )
            self.group_finished.labels(group=label).set(int(progress.finished))
