"""The monitoring side of MLflow: the reference profile and the monitoring run, through the ``Registry``.

Each registered version gets one run, ``monitoring v<N>`` (tags ``covertype.kind=monitoring`` and
``covertype.model_version``, in the experiment of the version's own run), created on its first evaluated
batch; its id is the version's tag :data:`MONITORING_RUN_TAG`, so the registry page of a version leads to
it. Metrics are logged there with the batch number as the step: ``batch_accuracy``, ``batch_macro_f1``,
``batch_drift_score`` and ``batch_recall_class_<c>``, one point per batch of the deployment's group.
"""

from __future__ import annotations

from datetime import UTC

import pandas as pd
from mlflow.entities import Metric

from covertype.monitoring.profile import build_profile
from covertype.registry.core import Registry
from covertype.registry.tags import MONITORING_RUN_TAG, PROFILE_ARTIFACT, PROFILE_TAG
from covertype.store.quality import BatchQuality


def log_profile(registry: Registry, *, run_id: str, version: str, train: pd.DataFrame) -> None:
    """Log the reference profile of ``train`` as a JSON artifact of the version's run and tag the version."""
    registry.runs.log_text(run_id, build_profile(train).to_json(), PROFILE_ARTIFACT)
    registry.set_version_tags(version, {PROFILE_TAG: PROFILE_ARTIFACT})


def monitoring_run_id(registry: Registry, version: str) -> str:
    """The id of the version's monitoring run, created (and named on the version) when missing."""
    found = registry.version(version)
    if MONITORING_RUN_TAG in found.tags:
        return str(found.tags[MONITORING_RUN_TAG])
    if not found.run_id:
        raise LookupError(f"version {version} was registered without a run: no experiment to monitor it in")
    run_id = registry.runs.create(
        registry.runs.experiment_of(found.run_id),
        name=f"monitoring v{version}",
        tags={"covertype.kind": "monitoring", "covertype.model_version": version},
    )
    registry.runs.finish(run_id)
    registry.set_version_tags(version, {MONITORING_RUN_TAG: run_id})
    return run_id


def log_batch_metrics(registry: Registry, quality: BatchQuality) -> None:
    """Log one evaluated batch on its version's monitoring run, the batch number as the step.

    Once per batch: a batch whose ``batch_accuracy`` is on the run already is left alone, so an evaluation
    re-run after MLflow failed completes the run without doubling a point.
    """
    values = {"batch_accuracy": quality.accuracy, "batch_macro_f1": quality.macro_f1}
    if quality.drift_score is not None:
        values["batch_drift_score"] = quality.drift_score
    values |= {f"batch_recall_class_{label}": recall for label, recall in quality.class_recall.items()}
    timestamp = int(quality.evaluated_at.replace(tzinfo=UTC).timestamp() * 1000)  # stored as naive UTC
    metrics = [Metric(key, value, timestamp, quality.batch_number) for key, value in values.items()]
    run_id = monitoring_run_id(registry, quality.model_version)
    if quality.batch_number in registry.runs.metric_steps(run_id, "batch_accuracy"):
        return
    registry.runs.log_metrics(run_id, metrics)
