"""Baseline: the store as ``mysql-init/init.sql`` created it before migrations existed.

A database that has these tables but no ``alembic_version`` (created by that init.sql, or by the embedded
default's ``create_all``) is stamped at this revision instead of running it.

Revision ID: 0001_baseline
Revises:
Create Date: 2026-11-30
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from covertype.schema import NUMERIC_COLUMNS

revision = "0001_baseline"
down_revision = None
branch_labels = None
depends_on = None

#: Auto-increment primary keys: BIGINT on MySQL, INTEGER (rowid alias) on SQLite.
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _id() -> sa.Column[int]:
    return sa.Column("id", _ID, primary_key=True, autoincrement=True)


def _features() -> list[sa.Column[Any]]:
    return [
        *(sa.Column(name, sa.Integer, nullable=False) for name in NUMERIC_COLUMNS),
        sa.Column("Wilderness_Area", sa.String(16), nullable=False),
        sa.Column("Soil_Type", sa.String(8), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "forest_cover_data",
        _id(),
        *_features(),
        sa.Column("Cover_Type", sa.SmallInteger, nullable=False),
        sa.Column("group_number", sa.SmallInteger, nullable=False),
        sa.Column("batch_number", sa.Integer, nullable=False),
        sa.Column("ingested_at", sa.DateTime, nullable=False),
        sa.Column("row_hash", sa.String(32), nullable=False),
        sa.UniqueConstraint("row_hash", name="uq_forest_cover_data_row_hash"),
    )
    op.create_index("ix_forest_cover_data_group_batch", "forest_cover_data", ["group_number", "batch_number"])
    op.create_table(
        "ingestion_runs",
        _id(),
        sa.Column("run_id", sa.String(250), nullable=False),
        sa.Column("group_number", sa.SmallInteger, nullable=False),
        sa.Column("batch_number", sa.Integer, nullable=True),
        sa.Column("rows_received", sa.Integer, nullable=False),
        sa.Column("rows_inserted", sa.Integer, nullable=False),
        sa.Column("duplicates", sa.Integer, nullable=False),
        sa.Column("rejected", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("finished_at", sa.DateTime, nullable=True),
    )
    op.create_index("ix_ingestion_runs_group_batch", "ingestion_runs", ["group_number", "batch_number"])
    op.create_index("ix_ingestion_runs_started_at", "ingestion_runs", ["started_at"])
    op.create_table(
        "forest_cover_rejected",
        _id(),
        sa.Column("run_id", sa.String(250), nullable=False),
        sa.Column("group_number", sa.SmallInteger, nullable=False),
        sa.Column("batch_number", sa.Integer, nullable=True),
        sa.Column("row_number", sa.Integer, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("row_hash", sa.String(32), nullable=False),
        sa.Column("rejected_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("row_hash", name="uq_forest_cover_rejected_row_hash"),
    )
    op.create_table(
        "predictions",
        _id(),
        *_features(),
        sa.Column("cover_type", sa.SmallInteger, nullable=False),
        sa.Column("probability", sa.Float, nullable=False),
        sa.Column("model_name", sa.String(250), nullable=False),
        sa.Column("model_version", sa.String(32), nullable=False),
        sa.Column("predicted_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_predictions_predicted_at", "predictions", ["predicted_at"])


def downgrade() -> None:
    for table in ("predictions", "forest_cover_rejected", "ingestion_runs", "forest_cover_data"):
        op.drop_table(table)
