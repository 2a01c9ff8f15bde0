"""Add ``batch_quality.drift_status``: the drift verdict became size-aware (issue 21).

Before, ``drift_score`` was the largest PSI of any feature and a fixed PSI threshold made the verdict, which
flagged clean batches at small sample sizes. Now the score is the largest PSI among the features whose
difference is beyond chance at the batch's and the reference's sizes, and ``drift_status`` says whether a
verdict was given (``covertype.store.quality.DriftStatus``). Stored rows are converted:

* no drift figures (a version without a reference profile): ``no_profile``;
* fewer rows than the verdict needs (100): ``not_enough_rows``, no score, no drifted feature;
* the others: ``unjudged``, no score, no drifted feature. Their PSI per feature stays (the drift map shows it
  greyed) but the old verdict cannot be re-judged: the reference's size was not stored.

A database created by an ``init.sql`` that already has the column keeps it as it is.

Revision ID: 0003_drift_verdict
Revises: 0002_batch_quality
Create Date: 2026-12-06
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0003_drift_verdict"
down_revision = "0002_batch_quality"
branch_labels = None
depends_on = None

#: ``covertype.store.quality.DRIFT_MIN_ROWS`` when this revision was written (a migration keeps its own copy).
MIN_ROWS = 100
#: The fixed PSI threshold of the old verdict, used to restore it on a downgrade.
OLD_THRESHOLD = 0.2

_table = sa.table(
    "batch_quality",
    sa.column("id", sa.BigInteger),
    sa.column("rows", sa.Integer),
    sa.column("drift_score", sa.Double),
    sa.column("drift_status", sa.String),
    sa.column("drifted_features", sa.Text),
    sa.column("feature_psi", sa.Text),
)


def upgrade() -> None:
    columns = {column["name"] for column in sa.inspect(op.get_bind()).get_columns("batch_quality")}
    if "drift_status" in columns:
        return
    with op.batch_alter_table("batch_quality") as batch:
        batch.add_column(sa.Column("drift_status", sa.String(16), nullable=True))
    op.execute(_table.update().where(_table.c.drift_score.is_(None)).values(drift_status="no_profile"))
    op.execute(
        _table.update()
        .where(_table.c.drift_status.is_(None), _table.c.rows < MIN_ROWS)
        .values(drift_status="not_enough_rows", drift_score=None, drifted_features="[]")
    )
    op.execute(
        _table.update()
        .where(_table.c.drift_status.is_(None))
        .values(drift_status="unjudged", drift_score=None, drifted_features="[]")
    )
    with op.batch_alter_table("batch_quality") as batch:
        batch.alter_column("drift_status", existing_type=sa.String(16), nullable=False)


def downgrade() -> None:
    """Back to the fixed threshold: the score is the largest PSI again, features above 0.2 drifted."""
    connection = op.get_bind()
    for row in connection.execute(sa.select(_table.c.id, _table.c.feature_psi)).all():
        psi: dict[str, float] = json.loads(row.feature_psi)
        drifted = sorted(
            (name for name, value in psi.items() if value > OLD_THRESHOLD), key=lambda n: -psi[n]
        )
        connection.execute(
            _table.update()
            .where(_table.c.id == row.id)
            .values(drift_score=max(psi.values(), default=None), drifted_features=json.dumps(drifted))
        )
    with op.batch_alter_table("batch_quality") as batch:
        batch.drop_column("drift_status")
