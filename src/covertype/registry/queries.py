"""What the web UI's Models page reads from the registry: versions, their scores and promotion evidence.

Needs pandas and mlflow-skinny only (the UI image has no scikit-learn and no full MLflow)."""

from __future__ import annotations

from typing import Any

import pandas as pd
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from covertype.registry import tags
from covertype.registry.core import Registry
from covertype.registry.evidence import HoldoutComparison, accuracy_text, latest_comparison, wilson_interval
from covertype.schema import WILDERNESS_AREAS


def registered_versions(registry: Registry, *, mlflow_ui_url: str | None = None) -> pd.DataFrame:
    """One row per registered version, newest first: scores of its run, aliases, promotion evidence.

    Scores come from the version's run metrics (``holdout_accuracy`` on ``holdout_rows``, written as
    ``holdout`` with its interval) and its tags (validation accuracy, promotion evidence, the holdout
    comparison); a version whose run is gone keeps empty scores rather than failing. ``mlflow_ui_url``:
    where the MLflow UI links go (:func:`run_link`).
    """
    try:
        aliases = registry.aliases()
        versions = registry.versions()
    except MlflowException:
        return pd.DataFrame(columns=_version_columns())
    by_version: dict[str, list[str]] = {}
    for alias, version in aliases.items():
        by_version.setdefault(version, []).append(alias)
    rows = [
        _version_row(registry, mlflow_ui_url, version, by_version.get(str(version.version), []))
        for version in versions
    ]
    frame = pd.DataFrame(rows, columns=_version_columns())
    return frame.sort_values("version", ascending=False, key=lambda s: s.astype(int)).reset_index(drop=True)


def latest_holdout(versions: pd.DataFrame) -> HoldoutComparison | None:
    """The versions' right answers on the latest holdout: the comparison the newest training recorded."""
    return latest_comparison(dict(zip(versions["version"], versions["holdout_comparison"], strict=True)))


def versions_table(versions: pd.DataFrame, latest: HoldoutComparison | None) -> pd.DataFrame:
    """``versions`` as the Models page lists them, plus ``validation`` (the validation accuracy that chose
    the candidate, in whole percent: the best of a search's trials, optimistic and of unrecorded rows)
    and ``latest`` (the accuracy on the ``latest`` holdout with its interval, or why there is none)."""
    return versions.assign(
        validation=versions["validation_accuracy"].map(
            lambda score: None if pd.isna(score) else f"{score:.0%}"
        ),
        latest=[
            (latest.text(version, with_rows=False) if latest else None) or "not re-scored on it"
            for version in versions["version"]
        ],
    )


def own_holdout_text(accuracy: float | None, rows: float | None) -> str | None:
    """A version's accuracy on its own holdout with its interval and rows (None when either is unknown)."""
    if accuracy is None or rows is None or pd.isna(accuracy) or pd.isna(rows):
        return None
    return accuracy_text(round(accuracy * rows), int(rows))


def slice_accuracy(comparison: HoldoutComparison) -> pd.DataFrame:
    """Long table (version, area, accuracy, low, high, text) of each compared version's accuracy per
    wilderness area on the same holdout rows, areas in UCI order; ``area`` names the rows
    (``Rawah (1,204 rows)``)."""
    rows = [
        {
            "version": f"v{version}",
            "area": f"{area} ({comparison.area_rows[area]:,} rows)",
            "accuracy": correct / comparison.area_rows[area],
            **dict(zip(("low", "high"), wilson_interval(correct, comparison.area_rows[area]), strict=True)),
            "text": accuracy_text(correct, comparison.area_rows[area]),
        }
        for version, areas in sorted(comparison.area_correct.items(), key=lambda item: int(item[0]))
        for area in WILDERNESS_AREAS  # the UCI order, whatever order the tag's JSON keeps
        if comparison.area_rows.get(area) and (correct := areas.get(area)) is not None
    ]
    return pd.DataFrame(rows, columns=["version", "area", "accuracy", "low", "high", "text"])


def run_link(
    mlflow_ui_url: str | None, tracking_uri: str, experiment_id: str | None, run_id: str | None
) -> str | None:
    """The run's page in the MLflow UI (``mlflow_ui_url``, else an http(s) tracking server's own)."""
    base = mlflow_ui_url or (tracking_uri if tracking_uri.startswith(("http://", "https://")) else None)
    if base is None or not experiment_id or not run_id:
        return None
    return f"{base.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}"


def _version_columns() -> list[str]:
    return [
        "version",
        "champion",
        "aliases",
        "candidate",
        "validation_accuracy",
        "holdout_accuracy",
        "holdout_rows",
        "holdout",
        "decision",
        "gain_verdict",
        "reason",
        "training_decision",
        "holdout_comparison",
        "created",
        "run_id",
        "mlflow",
    ]


def _version_row(
    registry: Registry, mlflow_ui_url: str | None, version: ModelVersion, aliases: list[str]
) -> dict[str, Any]:
    labels = version.tags or {}
    metrics: dict[str, float] = {}
    experiment_id = None
    if version.run_id:
        try:
            run = registry.runs.get(version.run_id)
            metrics, experiment_id = run.data.metrics, run.info.experiment_id
        except MlflowException:
            pass
    holdout_accuracy = metrics.get("holdout_accuracy", _float(labels.get(tags.HOLDOUT_ACCURACY_TAG)))
    return {
        "version": str(version.version),
        "champion": registry.serving_alias in aliases,
        "aliases": ", ".join(sorted(aliases)),
        "candidate": labels.get(tags.CANDIDATE_TAG, ""),
        "validation_accuracy": _float(labels.get(tags.VALIDATION_ACCURACY_TAG)),
        "holdout_accuracy": holdout_accuracy,
        "holdout_rows": metrics.get("holdout_rows"),
        "holdout": own_holdout_text(holdout_accuracy, metrics.get("holdout_rows")),
        "decision": labels.get(tags.DECISION_TAG, ""),
        "gain_verdict": _gain_verdict(labels),
        "reason": labels.get(tags.REASON_TAG, ""),
        "training_decision": labels.get(tags.TRAINING_DECISION_TAG, labels.get(tags.DECISION_TAG, "")),
        "holdout_comparison": labels.get(tags.HOLDOUT_COMPARISON_TAG),
        "created": pd.Timestamp(version.creation_timestamp, unit="ms", tz="UTC"),
        "run_id": version.run_id,
        "mlflow": run_link(mlflow_ui_url, registry.tracking_uri, experiment_id, version.run_id),
    }


def _gain_verdict(labels: dict[str, str]) -> str | None:
    """``beyond noise (exact McNemar p = 0.0026; right only by new / only by champion: 45 / 20 of 3020
    rows)`` from the promotion's tags; None for a version without a verdict."""
    verdict = labels.get(tags.GAIN_VERDICT_TAG)
    if not verdict or not labels.get(tags.GAIN_P_VALUE_TAG):
        return verdict or None
    p_value = float(labels[tags.GAIN_P_VALUE_TAG])
    rows = labels.get(tags.GAIN_ROWS_TAG, "")
    return f"{verdict} (exact McNemar p = {p_value:.2g}; right only by new / only by champion: {rows} rows)"


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None
