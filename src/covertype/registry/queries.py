"""What the web UI's Models page reads from the registry: versions, their scores and promotion evidence.

Needs pandas and mlflow-skinny only (the UI image has no scikit-learn and no full MLflow)."""

from __future__ import annotations

from typing import Any

import pandas as pd
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from covertype.registry import tags
from covertype.registry.client import mlflow_client
from covertype.schema import WILDERNESS_AREAS
from covertype.settings import Settings


def registered_versions(settings: Settings) -> pd.DataFrame:
    """One row per registered version, newest first: scores of its run, aliases, promotion evidence.

    Scores come from the version's run metrics (``holdout_accuracy``, ``holdout_macro_f1`` and
    ``holdout_accuracy_<area>``); a version whose run is gone keeps empty scores rather than failing.
    """
    client = mlflow_client(settings)
    try:
        aliases = client.get_registered_model(settings.model_name).aliases
        versions = client.search_model_versions(f"name = '{settings.model_name}'")
    except MlflowException:
        return pd.DataFrame(columns=_version_columns())
    by_version: dict[str, list[str]] = {}
    for alias, version in aliases.items():
        by_version.setdefault(str(version), []).append(alias)
    rows = [
        _version_row(settings, client, version, by_version.get(str(version.version), []))
        for version in versions
    ]
    frame = pd.DataFrame(rows, columns=_version_columns())
    return frame.sort_values("version", ascending=False, key=lambda s: s.astype(int)).reset_index(drop=True)


def champion_history(versions: pd.DataFrame) -> pd.DataFrame:
    """Per training run (one registered version each, oldest first): the new version's and the champion's
    holdout accuracy once the run decided. Hand-made promotions are not training runs and are left out.
    After a ``superseded`` run the champion is one a user put back meanwhile, never scored on that run's
    holdout: its accuracy there is missing, not the score of the champion the run compared with."""
    trained = versions[versions["training_decision"].isin(tags.TRAINING_DECISIONS)].copy()
    trained["version_number"] = trained["version"].astype(int)
    trained = trained.sort_values("version_number")
    decision = trained["training_decision"]
    trained["champion after the run"] = trained["challenger_accuracy"].where(
        decision == tags.PROMOTED, trained["champion_accuracy"].where(decision == tags.REJECTED)
    )
    history = trained.rename(columns={"challenger_accuracy": "new version"})
    history["training run"] = "v" + history["version"]
    return history[["training run", "new version", "champion after the run"]].reset_index(drop=True)


def slice_accuracy(versions: pd.DataFrame) -> pd.DataFrame:
    """Long table (version, wilderness area, accuracy) of the per-wilderness holdout accuracy."""
    columns = [f"accuracy {area}" for area in WILDERNESS_AREAS]
    long = versions.melt(id_vars=["version"], value_vars=columns, var_name="area", value_name="accuracy")
    long["area"] = long["area"].str.removeprefix("accuracy ")
    long["version"] = "v" + long["version"]
    return long.dropna(subset=["accuracy"]).reset_index(drop=True)


def run_link(settings: Settings, experiment_id: str | None, run_id: str | None) -> str | None:
    """The run's page in the MLflow UI, when there is a UI to link to."""
    base = settings.mlflow_ui_url or (
        settings.tracking_uri if settings.tracking_uri.startswith(("http://", "https://")) else None
    )
    if base is None or not experiment_id or not run_id:
        return None
    return f"{base.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}"


def _version_columns() -> list[str]:
    return [
        "version",
        "champion",
        "aliases",
        "candidate",
        "holdout_accuracy",
        "holdout_macro_f1",
        *(f"accuracy {area}" for area in WILDERNESS_AREAS),
        "decision",
        "reason",
        "training_decision",
        "challenger_accuracy",
        "champion_accuracy",
        "created",
        "run_id",
        "mlflow",
    ]


def _version_row(
    settings: Settings, client: MlflowClient, version: ModelVersion, aliases: list[str]
) -> dict[str, Any]:
    labels = version.tags or {}
    metrics: dict[str, float] = {}
    experiment_id = None
    if version.run_id:
        try:
            run = client.get_run(version.run_id)
            metrics, experiment_id = run.data.metrics, run.info.experiment_id
        except MlflowException:
            pass
    return {
        "version": str(version.version),
        "champion": settings.model_alias in aliases,
        "aliases": ", ".join(sorted(aliases)),
        "candidate": labels.get(tags.CANDIDATE_TAG, ""),
        "holdout_accuracy": metrics.get("holdout_accuracy", _float(labels.get(tags.HOLDOUT_ACCURACY_TAG))),
        "holdout_macro_f1": metrics.get("holdout_macro_f1"),
        **{f"accuracy {area}": metrics.get(f"holdout_accuracy_{area}") for area in WILDERNESS_AREAS},
        "decision": labels.get(tags.DECISION_TAG, ""),
        "reason": labels.get(tags.REASON_TAG, ""),
        "training_decision": labels.get(tags.TRAINING_DECISION_TAG, labels.get(tags.DECISION_TAG, "")),
        "challenger_accuracy": _float(labels.get(tags.CHALLENGER_ACCURACY_TAG)),
        "champion_accuracy": _float(labels.get(tags.CHAMPION_ACCURACY_TAG)),
        "created": pd.Timestamp(version.creation_timestamp, unit="ms", tz="UTC"),
        "run_id": version.run_id,
        "mlflow": run_link(settings, experiment_id, version.run_id),
    }


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None
