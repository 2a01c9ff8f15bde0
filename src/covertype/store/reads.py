"""Reads of the store that need no pandas: the ingestion DAG's planning step runs them before every batch.

(Importing pandas and pyarrow took a task process 10-20 s on a busy two-core machine, time a 30 s batch
interval does not leave.)
"""

from __future__ import annotations

from sqlalchemy import Engine, func, inspect, select

from covertype.store.tables import RunStatus, forest_cover_data, ingestion_runs


def last_stored_batch(engine: Engine, *, group_number: int) -> int | None:
    """The batch of the group's latest successful poll (new rows or not), None before the first one."""
    with engine.connect() as connection:
        return connection.execute(
            select(ingestion_runs.c.batch_number)
            .where(
                ingestion_runs.c.group_number == group_number,
                ingestion_runs.c.status == str(RunStatus.SUCCESS),
            )
            .order_by(ingestion_runs.c.id.desc())
            .limit(1)
        ).scalar()


def count_stored_rows(engine: Engine) -> int:
    """Rows in ``forest_cover_data``; 0 while the table does not exist yet."""
    if not inspect(engine).has_table(forest_cover_data.name):
        return 0
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(forest_cover_data)).scalar_one())
