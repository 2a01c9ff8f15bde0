"""The monitoring side of MLflow: the champion and its artifacts, the reference profile, the monitoring run.

Each registered version gets one run, ``monitoring v<N>`` (tags ``covertype.kind=monitoring`` and
``covertype.model_version``, in the experiment of the version's own run), created on its first evaluated
batch; its id is the version's tag :data:`MONITORING_RUN_TAG`, so the registry page of a version leads to
it. Metrics are logged there with the batch number as the step: ``batch_accuracy``, ``batch_macro_f1``,
``batch_drift_score`` and ``batch_recall_class_<c>``, one point per batch of the deployment's group.
"""

from __future__ import annotations

import tempfile
from datetime import UTC
from pathlib import Path

import pandas as pd
from mlflow.artifacts import download_artifacts
from mlflow.entities import Metric
from mlflow.entities.model_registry import ModelVersion

from covertype.monitoring.profile import build_profile
from covertype.registry.aliases import champion_version
from covertype.registry.client import mlflow_client as client
from covertype.registry.tags import MONITORING_RUN_TAG, PROFILE_ARTIFACT, PROFILE_TAG
from covertype.settings import Settings
from covertype.store.quality import BatchQuality


def log_profile(settings: Settings, *, run_id: str, version: str, train: pd.DataFrame) -> None:
    """Log the reference profile of ``train`` as a JSON artifact of the version's run and tag the version."""
    mlflow_client = client(settings)
    mlflow_client.log_text(run_id, build_profile(train).to_json(), PROFILE_ARTIFACT)
    mlflow_client.set_model_version_tag(settings.model_name, version, PROFILE_TAG, PROFILE_ARTIFACT)


def champion(settings: Settings) -> ModelVersion | None:
    """The version the serving alias points at, None when there is none yet."""
    if champion_version(settings) is None:
        return None
    return client(settings).get_model_version_by_alias(settings.model_name, settings.model_alias)


def run_artifact(settings: Settings, run_id: str, path: str) -> bytes:
    """The bytes of one artifact of a run (through the tracking server when it is one)."""
    with tempfile.TemporaryDirectory(prefix="covertype-monitoring-") as folder:
        local = download_artifacts(
            run_id=run_id, artifact_path=path, dst_path=folder, tracking_uri=settings.tracking_uri
        )
        return Path(local).read_bytes()


def monitoring_run_id(settings: Settings, version: str) -> str:
    """The id of the version's monitoring run, created (and named on the version) when missing."""
    mlflow_client = client(settings)
    found = mlflow_client.get_model_version(settings.model_name, version)
    if MONITORING_RUN_TAG in found.tags:
        return str(found.tags[MONITORING_RUN_TAG])
    run = mlflow_client.create_run(
        mlflow_client.get_run(found.run_id).info.experiment_id,
        run_name=f"monitoring v{version}",
        tags={"covertype.kind": "monitoring", "covertype.model_version": version},
    )
    mlflow_client.set_terminated(run.info.run_id, "FINISHED")
    mlflow_client.set_model_version_tag(settings.model_name, version, MONITORING_RUN_TAG, run.info.run_id)
    return str(run.info.run_id)


def log_batch_metrics(settings: Settings, quality: BatchQuality) -> None:
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
    mlflow_client, run_id = client(settings), monitoring_run_id(settings, quality.model_version)
    if any(
        point.step == quality.batch_number
        for point in mlflow_client.get_metric_history(run_id, "batch_accuracy")
    ):
        return
    mlflow_client.log_batch(run_id, metrics=metrics)
