"""The monitoring side of MLflow: a version's reference profile, and its monitoring run.

Each registered version gets one run, ``monitoring v<N>`` (tags ``covertype.kind=monitoring`` and
``covertype.model_version``), created on its first evaluated batch; its id is the version's tag
:data:`MONITORING_RUN_TAG`, so the registry page of a version leads to it. Metrics are logged there with
the batch number as the step: ``batch_accuracy``, ``batch_macro_f1``, ``batch_drift_score`` and
``batch_recall_class_<c>``, one point per batch of the deployment's group.
"""

from __future__ import annotations

from datetime import UTC

import pandas as pd
from mlflow.entities import Metric

from covertype.monitoring.profile import PROFILE_ARTIFACT, PROFILE_TAG, build_profile
from covertype.settings import Settings
from covertype.store.quality import BatchQuality
from covertype.training.tracking import client, ensure_experiment

MONITORING_RUN_TAG = "covertype.monitoring_run_id"


def log_profile(settings: Settings, *, run_id: str, version: str, train: pd.DataFrame) -> None:
    """Log the reference profile of ``train`` as a JSON artifact of the version's run and tag the version."""
    mlflow_client = client(settings)
    mlflow_client.log_text(run_id, build_profile(train).to_json(), PROFILE_ARTIFACT)
    mlflow_client.set_model_version_tag(settings.model_name, version, PROFILE_TAG, PROFILE_ARTIFACT)


def monitoring_run_id(settings: Settings, version: str) -> str:
    """The id of the version's monitoring run, created (and named on the version) when missing."""
    mlflow_client = client(settings)
    tags = mlflow_client.get_model_version(settings.model_name, version).tags
    if MONITORING_RUN_TAG in tags:
        return tags[MONITORING_RUN_TAG]
    run = mlflow_client.create_run(
        ensure_experiment(settings, mlflow_client),
        run_name=f"monitoring v{version}",
        tags={"covertype.kind": "monitoring", "covertype.model_version": version},
    )
    mlflow_client.set_terminated(run.info.run_id, "FINISHED")
    mlflow_client.set_model_version_tag(settings.model_name, version, MONITORING_RUN_TAG, run.info.run_id)
    return str(run.info.run_id)


def log_batch_metrics(settings: Settings, quality: BatchQuality) -> None:
    """Log one evaluated batch on its version's monitoring run, the batch number as the step."""
    values = {"batch_accuracy": quality.accuracy, "batch_macro_f1": quality.macro_f1}
    if quality.drift_score is not None:
        values["batch_drift_score"] = quality.drift_score
    values |= {f"batch_recall_class_{label}": recall for label, recall in quality.class_recall.items()}
    timestamp = int(quality.evaluated_at.replace(tzinfo=UTC).timestamp() * 1000)  # stored as naive UTC
    metrics = [Metric(key, value, timestamp, quality.batch_number) for key, value in values.items()]
    client(settings).log_batch(monitoring_run_id(settings, quality.model_version), metrics=metrics)
