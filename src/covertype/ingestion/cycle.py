"""Ingest, then evaluate: one poll stored, then the champion scored on what it brought (test-then-train).

``covertype ingest`` and the demo run the whole sequence, :func:`ingest_and_evaluate`. The
``covertype_ingest`` DAG runs its two halves as two tasks: :func:`~covertype.ingestion.pipeline.ingest_once`
(the task is skipped when :attr:`~covertype.ingestion.pipeline.IngestionResult.nothing_new` says why), then
:func:`evaluate_ingested`, after which the DAG updates its asset.
"""

from __future__ import annotations

from dataclasses import dataclass

from covertype.ingestion.pipeline import IngestionResult, ingest_once
from covertype.monitoring import BatchEvaluation, EvaluationFailed, evaluate_stored_batch
from covertype.settings import Settings


class NotEvaluated(EvaluationFailed):
    """The batch was stored (``ingestion`` says what), but the champion could not score it: the registry,
    the champion's artifacts or the store failed. The message is the evaluation's."""

    def __init__(self, ingestion: IngestionResult, cause: EvaluationFailed) -> None:
        super().__init__(str(cause))
        self.ingestion = ingestion


@dataclass(frozen=True)
class IngestedBatch:
    """A poll, and the champion's evaluation of what it stored: None when it stored nothing new."""

    ingestion: IngestionResult
    evaluation: BatchEvaluation | None = None

    def to_dict(self) -> dict[str, object]:
        """The poll's summary, with the evaluation's under ``evaluation`` when there is one."""
        scored = {} if self.evaluation is None else {"evaluation": self.evaluation.to_dict()}
        return self.ingestion.to_dict() | scored


def evaluate_ingested(settings: Settings, ingestion: IngestionResult) -> BatchEvaluation:
    """The champion scores the batch ``ingestion`` stored: one ``batch_quality`` row, idempotent; skipped
    at once, without importing MLflow, when there is no champion yet.

    Raises :class:`~covertype.monitoring.EvaluationFailed` when the registry, the champion's artifacts or
    the store fail, and ValueError for a poll that stored no batch (all batches delivered).
    """
    if ingestion.batch_number is None:
        raise ValueError(f"group {ingestion.group_number}: no batch to evaluate ({ingestion.nothing_new})")
    return evaluate_stored_batch(settings, ingestion.group_number, ingestion.batch_number)


def ingest_and_evaluate(
    settings: Settings, *, group: int | None = None, run_id: str | None = None
) -> IngestedBatch:
    """Poll the data API once for ``group`` (default ``settings.group``) and store the batch; when it
    brought new rows, the champion scores them before any training sees them.

    Raises :class:`~covertype.ingestion.pipeline.IngestionFailed` when nothing could be stored, and
    :class:`NotEvaluated` when the batch was stored but not scored.
    """
    ingestion = ingest_once(settings, group=group, run_id=run_id)
    if ingestion.nothing_new is not None:
        return IngestedBatch(ingestion)
    try:
        return IngestedBatch(ingestion, evaluate_ingested(settings, ingestion))
    except EvaluationFailed as exc:
        raise NotEvaluated(ingestion, exc) from exc
