"""Ingestion: poll the data API, validate each row, store new rows once, log every poll."""

from covertype.ingestion.pipeline import IngestionFailed, IngestionResult, ingest_once

__all__ = ["IngestionFailed", "IngestionResult", "ingest_once"]
