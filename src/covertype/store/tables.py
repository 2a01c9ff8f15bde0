"""Table metadata of the store (SQLAlchemy Core). ``mysql-init/init.sql`` must agree; a test checks.

``row_hash`` (see :mod:`covertype.store.row_hash`) is unique, so a row polled twice is stored once.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Double,
    Float,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from covertype.schema import NUMERIC_COLUMNS

metadata = MetaData()


class RunStatus(StrEnum):
    """How a poll ended, as written to ``ingestion_runs.status``."""

    SUCCESS = "success"
    EXHAUSTED = "exhausted"
    FAILED = "failed"


#: Auto-increment primary keys: BIGINT on MySQL, INTEGER (rowid alias) on SQLite.
_Id = BigInteger().with_variant(Integer(), "sqlite")


def _feature_columns() -> list[Column[Any]]:
    return [
        *(Column(name, Integer, nullable=False) for name in NUMERIC_COLUMNS),
        Column("Wilderness_Area", String(16), nullable=False),
        Column("Soil_Type", String(8), nullable=False),
    ]


forest_cover_data = Table(
    "forest_cover_data",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    *_feature_columns(),
    Column("Cover_Type", SmallInteger, nullable=False),
    Column("group_number", SmallInteger, nullable=False),
    Column("batch_number", Integer, nullable=False),
    Column("ingested_at", DateTime, nullable=False),
    Column("row_hash", String(32), nullable=False),
    UniqueConstraint("row_hash", name="uq_forest_cover_data_row_hash"),
    Index("ix_forest_cover_data_group_batch", "group_number", "batch_number"),
)

ingestion_runs = Table(
    "ingestion_runs",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("run_id", String(250), nullable=False),
    Column("group_number", SmallInteger, nullable=False),
    Column("batch_number", Integer, nullable=True),
    Column("rows_received", Integer, nullable=False, default=0),
    Column("rows_inserted", Integer, nullable=False, default=0),
    Column("duplicates", Integer, nullable=False, default=0),
    Column("rejected", Integer, nullable=False, default=0),
    Column("status", String(16), nullable=False),
    Column("error", Text, nullable=True),
    Column("started_at", DateTime, nullable=False),
    Column("finished_at", DateTime, nullable=True),
    Index("ix_ingestion_runs_group_batch", "group_number", "batch_number"),
    Index("ix_ingestion_runs_started_at", "started_at"),
)

forest_cover_rejected = Table(
    "forest_cover_rejected",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("run_id", String(250), nullable=False),
    Column("group_number", SmallInteger, nullable=False),
    Column("batch_number", Integer, nullable=True),
    Column("row_number", Integer, nullable=False),
    Column("payload", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("row_hash", String(32), nullable=False),
    Column("rejected_at", DateTime, nullable=False),
    UniqueConstraint("row_hash", name="uq_forest_cover_rejected_row_hash"),
)

predictions = Table(
    "predictions",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    *_feature_columns(),
    Column("cover_type", SmallInteger, nullable=False),
    Column("probability", Float, nullable=False),
    Column("model_name", String(250), nullable=False),
    Column("model_version", String(32), nullable=False),
    Column("predicted_at", DateTime, nullable=False),
    Index("ix_predictions_predicted_at", "predicted_at"),
)

#: The champion tested on each stored batch before it is trained on (prequential evaluation): one row per
#: group, batch and model version. ``drift_status`` is the drift verdict (``drifted``, ``stable``) or why
#: there is none (``not_enough_rows``, ``no_profile``, ``unjudged``); ``drift_score`` is None without one.
#: ``drifted_features`` is a JSON list of column names, ``class_recall`` and ``feature_psi`` JSON objects.
batch_quality = Table(
    "batch_quality",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("group_number", SmallInteger, nullable=False),
    Column("batch_number", Integer, nullable=False),
    Column("model_version", String(32), nullable=False),
    Column("rows", Integer, nullable=False),
    Column("accuracy", Double, nullable=False),
    Column("macro_f1", Double, nullable=False),
    Column("drift_score", Double, nullable=True),
    Column("drifted_features", Text, nullable=False),
    Column("class_recall", Text, nullable=False),
    Column("feature_psi", Text, nullable=False),
    Column("evaluated_at", DateTime, nullable=False),
    Column("drift_status", String(16), nullable=False),  # last: added by a migration (0003)
    UniqueConstraint(
        "group_number", "batch_number", "model_version", name="uq_batch_quality_group_batch_version"
    ),
)
