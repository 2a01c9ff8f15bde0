"""Helpers of the inference API tests: models trained on the shared sample, in a temp MLflow store."""

from __future__ import annotations

from pathlib import Path

import mlflow
import mlflow.sklearn
import pandas as pd
from mlflow import MlflowClient
from mlflow.models import infer_signature
from sklearn.base import ClassifierMixin
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from covertype.schema import CATEGORICAL_COLUMNS, EXAMPLE_RECORD, FEATURE_COLUMNS, TARGET_COLUMN
from covertype.settings import Settings

#: A valid record (the first row of the UCI file).
GOOD = dict(EXAMPLE_RECORD)


def registry_settings(tmp_path: Path, **overrides: object) -> Settings:
    """Settings on a SQLite MLflow store and a SQLite prediction store, both under ``tmp_path``."""
    values: dict[str, object] = {
        "data_dir": tmp_path,
        "mlflow_tracking_uri": f"sqlite:///{tmp_path / 'mlflow.db'}",
        "model_poll_interval": 0.5,
        "max_batch_records": 2_000,
        **overrides,
    }
    return Settings(**values)


def train_pipeline(frame: pd.DataFrame, classifier: ClassifierMixin) -> Pipeline:
    """The model contract: one-hot on the two categorical columns, the numeric ones passed through."""
    preprocess = ColumnTransformer(
        [("categorical", OneHotEncoder(handle_unknown="ignore"), list(CATEGORICAL_COLUMNS))],
        remainder="passthrough",
        sparse_threshold=0,
    )
    pipeline = Pipeline([("preprocess", preprocess), ("classifier", classifier)])
    return pipeline.fit(frame[list(FEATURE_COLUMNS)], frame[TARGET_COLUMN])


def register(
    settings: Settings, pipeline: Pipeline, frame: pd.DataFrame, *, alias: str | None = "champion"
) -> str:
    """Log ``pipeline`` as a run with holdout metrics, register it and point ``alias`` at it; the version."""
    mlflow.set_tracking_uri(settings.tracking_uri)
    mlflow.set_registry_uri(settings.tracking_uri)
    experiment = mlflow.get_experiment_by_name("covertype")
    experiment_id = (
        experiment.experiment_id
        if experiment
        else mlflow.create_experiment(
            "covertype", artifact_location=(settings.data_dir / "artifacts").resolve().as_uri()
        )
    )
    features = frame[list(FEATURE_COLUMNS)]
    with mlflow.start_run(experiment_id=experiment_id) as run:
        accuracy = float((pipeline.predict(features) == frame[TARGET_COLUMN]).mean())
        mlflow.log_metrics({"holdout_accuracy": accuracy, "holdout_macro_f1": accuracy / 2})
        info = mlflow.sklearn.log_model(
            pipeline,
            name="model",
            serialization_format="cloudpickle",
            signature=infer_signature(features.head(50), pipeline.predict_proba(features.head(50))),
            input_example=features.head(2),
            registered_model_name=settings.model_name,
        )
    version = str(info.registered_model_version)
    assert run.info.run_id
    if alias:
        MlflowClient(settings.tracking_uri).set_registered_model_alias(settings.model_name, alias, version)
    return version
