"""Ingestion: poll the data API, validate each row, store new rows once, log every poll; then have the
champion score what a poll stored (:func:`ingest_and_evaluate`).

The Airflow side of it (the ingest DAG's window sensor, the asset) is :mod:`covertype.orchestration`.
"""

from covertype.ingestion.cadence import PollPlan, plan_next_poll, wait_for_poll
from covertype.ingestion.cycle import IngestedBatch, NotEvaluated, evaluate_ingested, ingest_and_evaluate
from covertype.ingestion.pipeline import IngestionFailed, IngestionResult, PollStatus, ingest_once

__all__ = [
    "IngestedBatch",
    "IngestionFailed",
    "IngestionResult",
    "NotEvaluated",
    "PollPlan",
    "PollStatus",
    "evaluate_ingested",
    "ingest_and_evaluate",
    "ingest_once",
    "plan_next_poll",
    "wait_for_poll",
]
