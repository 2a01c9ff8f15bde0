"""What evaluating a stored batch did, and the cheap way in: no champion, no MLflow.

:func:`evaluate_stored_batch` is what the ingest DAG's ``evaluate_batch`` task runs. Before the first training
there is no champion, and the task must finish at once: the next ingest run (one at a time) waits for it,
and with it the next batch. So it asks the registry for the serving alias over REST first
(:func:`~covertype.registry.reader.serving_alias_version`) and imports MLflow, ONNX Runtime and pandas
(:mod:`covertype.monitoring.evaluation`, seconds in each task process) only when there is a champion.
"""

from __future__ import annotations

import httpx

from covertype.monitoring.outcome import BatchEvaluation, EvaluationFailed, no_champion
from covertype.registry.reader import RegistryError, serving_alias_version
from covertype.settings import Settings

__all__ = ["BatchEvaluation", "EvaluationFailed", "evaluate_stored_batch"]


def evaluate_stored_batch(settings: Settings, group_number: int, batch_number: int) -> BatchEvaluation:
    """:func:`~covertype.monitoring.evaluation.evaluate_batch`, skipped without importing it when the
    registry has no champion. Raises :class:`EvaluationFailed` when the registry cannot be read."""
    try:
        champion = serving_alias_version(settings)
    except (RegistryError, httpx.HTTPError) as exc:
        raise EvaluationFailed(f"group {group_number} batch {batch_number}: {exc}") from exc
    if champion is None:
        return no_champion(settings)
    from covertype.monitoring.evaluation import evaluate_batch  # MLflow, ONNX Runtime: only for a champion

    return evaluate_batch(settings, group_number, batch_number)
