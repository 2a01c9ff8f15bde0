"""Add ``batch_quality``: the champion tested on each stored batch (issue 16).

A database created by an ``init.sql`` that already lists the table keeps it: the table is created only
when missing.

Revision ID: 0002_batch_quality
Revises: 0001_baseline
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_batch_quality"
down_revision = "0001_baseline"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("batch_quality"):
        return
    op.create_table(
        "batch_quality",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True
        ),
        sa.Column("group_number", sa.SmallInteger, nullable=False),
        sa.Column("batch_number", sa.Integer, nullable=False),
        sa.Column("model_version", sa.String(32), nullable=False),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("accuracy", sa.Double, nullable=False),
        sa.Column("macro_f1", sa.Double, nullable=False),
        sa.Column("drift_score", sa.Double, nullable=True),
        sa.Column("drifted_features", sa.Text, nullable=False),
        sa.Column("class_recall", sa.Text, nullable=False),
        sa.Column("feature_psi", sa.Text, nullable=False),
        sa.Column("evaluated_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint(
            "group_number", "batch_number", "model_version", name="uq_batch_quality_group_batch_version"
        ),
    )


def downgrade() -> None:
    op.drop_table("batch_quality")
