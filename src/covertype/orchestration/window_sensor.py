"""The ``wait_for_window`` task of ``covertype_ingest``: wait for the group's next batch window.

A long wait (the default interval is 5 minutes) is deferred to Airflow's triggerer, so no worker slot is
held; the task wakes :data:`RESUME_LEAD` before the opening, leaving time for Airflow to resume it and
start the ingest task, which sleeps the last seconds (:func:`covertype.ingestion.wait_for_poll`).
A wait shorter than the lead is not deferred at all: the ingest task sleeps it.

Once every batch of the group was delivered, the task does not return (no run of the ingest task, no
poll, no "skipped" run every interval): it defers to a re-check of ``GET /groups`` every
:data:`~covertype.ingestion.cadence.RESTART_RECHECK_INTERVALS` batch intervals, again and again, and
returns the plan once the group was restarted; ingestion then goes on at its normal pace.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.providers.standard.triggers.temporal import DateTimeTrigger
from airflow.sdk import BaseOperator

from covertype.settings import get_settings

#: How long before the opening a deferred wait ends: resuming it and starting the next task takes Airflow
#: a few seconds, more on a busy machine.
RESUME_LEAD = timedelta(seconds=30)


class WaitForBatchWindow(BaseOperator):
    """Returns the poll plan (XCom) once the next poll is less than :data:`RESUME_LEAD` away."""

    ui_color = "#e8f0fe"

    def execute(self, context: Any) -> dict[str, object]:
        return self._wait(self._plan())

    def execute_complete(self, context: Any, event: Any = None) -> dict[str, object]:
        """Back from the triggerer: plan again (the data API may have moved or restarted meanwhile)."""
        return self._wait(self._plan())

    def _wait(self, plan: dict[str, object]) -> dict[str, object]:
        """Defer until the plan's moment (a re-check of a finished group) or :data:`RESUME_LEAD` before it
        (a poll); the plan once the poll is nearer than that."""
        poll_at = datetime.fromisoformat(str(plan["poll_at"]))
        wake = poll_at if plan["finished"] else poll_at - RESUME_LEAD
        if plan["finished"] or wake > datetime.now(UTC):
            self.defer(trigger=DateTimeTrigger(moment=wake), method_name="execute_complete")
        return plan

    def _plan(self) -> dict[str, object]:
        from covertype.ingestion import plan_next_poll  # pandas and SQLAlchemy: not at parse time

        plan = plan_next_poll(get_settings())
        self.log.info("next poll of group %s at %s: %s", plan.group_number, plan.poll_at, plan.reason)
        return plan.to_dict()
