"""Ingestion: poll the data API, validate each row, store new rows once, log every poll.

The names below load :mod:`covertype.ingestion.pipeline` (pandas, pyarrow, SQLAlchemy) on first use, so
that the ingestion DAG's file, which imports :mod:`covertype.ingestion.window_sensor`, parses quickly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from covertype.ingestion.pipeline import IngestionFailed, IngestionResult, PollStatus, ingest_once

__all__ = ["IngestionFailed", "IngestionResult", "PollStatus", "ingest_once"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from covertype.ingestion import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
