"""Model quality over time: the champion tested on every batch before training on it (test-then-train).

Training calls :func:`log_profile` to keep the reference profile of a registered version's training rows,
and :func:`decide_retraining` to decide whether to train, and why; ingestion
(:func:`covertype.ingestion.ingest_and_evaluate`) calls :func:`evaluate_stored_batch`. The names load
their modules on first use, so that a task finding no champion imports no MLflow.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from covertype.monitoring.batch_evaluation import BatchEvaluation, EvaluationFailed, evaluate_stored_batch
    from covertype.monitoring.retrain import RetrainDecision, RetrainSignals, decide_retraining
    from covertype.monitoring.tracking import log_profile

_MODULES = {
    "BatchEvaluation": "batch_evaluation",
    "EvaluationFailed": "batch_evaluation",
    "RetrainDecision": "retrain",
    "RetrainSignals": "retrain",
    "decide_retraining": "retrain",
    "log_profile": "tracking",
    "evaluate_stored_batch": "batch_evaluation",
}
__all__ = [
    "BatchEvaluation",
    "EvaluationFailed",
    "RetrainDecision",
    "RetrainSignals",
    "decide_retraining",
    "evaluate_stored_batch",
    "log_profile",
]


def __getattr__(name: str) -> Any:
    if name in _MODULES:
        return getattr(import_module(f"covertype.monitoring.{_MODULES[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
