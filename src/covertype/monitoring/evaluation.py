"""Test-then-train: the champion scores a stored batch before any training sees it.

:func:`evaluate_batch` is what ``covertype ingest`` runs right after storing a batch and what the
``evaluate_batch`` task of the ingestion DAG runs. It loads the champion the way the inference API does
(its ONNX graph, no pickle), scores the batch's stored rows (accuracy, macro-F1, recall per class), measures
the drift of every feature against the champion's reference profile, writes one ``batch_quality`` row and
logs the figures to MLflow, on the version's monitoring run, with the batch number as the step.
Re-running it for the same batch and champion changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import numpy as np
import pandas as pd
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from covertype.model.runtime import GraphPredictor
from covertype.monitoring.drift import drift_report
from covertype.monitoring.outcome import BatchEvaluation, EvaluationFailed, no_champion, skipped
from covertype.monitoring.profile import ReferenceProfile
from covertype.monitoring.tracking import log_batch_metrics
from covertype.registry.core import Registry
from covertype.registry.tags import ONNX_ARTIFACT_TAG, PROFILE_TAG
from covertype.schema import FEATURE_COLUMNS, TARGET_COLUMN
from covertype.settings import Settings
from covertype.store.batches import utc_now
from covertype.store.engine import store_engine
from covertype.store.errors import StoreError
from covertype.store.quality import (
    BatchQuality,
    DriftStatus,
    read_batch_rows,
    record_batch_quality,
    stored_batch_quality,
)

__all__ = ["BatchEvaluation", "EvaluationFailed", "NoOnnxGraph", "evaluate_batch"]


class NoOnnxGraph(EvaluationFailed):
    """The champion was registered without an ONNX graph (before the export existed)."""


@dataclass(frozen=True)
class ClassificationScores:
    """Accuracy, macro-F1 (over the classes in the truth or the predictions) and recall per true class."""

    accuracy: float
    macro_f1: float
    class_recall: dict[str, float]


def classification_scores(truth: np.ndarray, predicted: np.ndarray) -> ClassificationScores:
    """The scores of ``predicted`` labels against ``truth``, in numpy (the service image has no sklearn).

    Macro-F1 averages the classes seen in either array, as scikit-learn's ``f1_score`` does by default:
    a batch without a class does not count that class as a zero.
    """
    truth, predicted = np.asarray(truth), np.asarray(predicted)
    f1s, recall = [], {}
    for label in np.union1d(truth, predicted):
        true_positive = float(np.sum((truth == label) & (predicted == label)))
        actual, claimed = float(np.sum(truth == label)), float(np.sum(predicted == label))
        f1s.append(2 * true_positive / (actual + claimed))
        if actual:
            recall[str(int(label))] = true_positive / actual
    return ClassificationScores(
        accuracy=float(np.mean(truth == predicted)), macro_f1=float(np.mean(f1s)), class_recall=recall
    )


def evaluate_batch(settings: Settings, group_number: int, batch_number: int) -> BatchEvaluation:
    """Score the champion on the rows stored with this batch and record it (see the module docstring).

    Skipped (nothing recorded, the reason returned) when there is no champion or the batch stored no row.
    Raises :class:`EvaluationFailed` when MLflow, the champion's graph or the store fail.
    """
    try:
        return _evaluate(settings, Registry.from_settings(settings), group_number, batch_number)
    except (MlflowException, StoreError, httpx.HTTPError, OSError, ValueError) as exc:
        raise EvaluationFailed(
            f"group {group_number} batch {batch_number}: {type(exc).__name__}: {exc}"
        ) from exc


def _evaluate(
    settings: Settings, registry: Registry, group_number: int, batch_number: int
) -> BatchEvaluation:
    version = registry.champion()
    if version is None:
        return no_champion(settings)
    engine = store_engine(settings)
    try:
        stored = stored_batch_quality(
            engine, group_number=group_number, batch_number=batch_number, model_version=str(version.version)
        )
        if stored is not None:  # a re-run: the row stays; MLflow gets the figures if they did not land
            log_batch_metrics(registry, stored)
            return BatchEvaluation(
                "unchanged",
                f"v{version.version} on group {group_number} batch {batch_number} was recorded before",
                stored,
            )
        with engine.connect() as connection:
            batch = read_batch_rows(connection, group_number=group_number, batch_number=batch_number)
        if batch.empty:
            return skipped(f"group {group_number} batch {batch_number} stored no rows")
        quality = _score(
            settings,
            version,
            _graph(settings, registry, version),
            _profile(registry, version),
            batch,
            group_number,
            batch_number,
        )
        record_batch_quality(
            engine, quality
        )  # a concurrent run may have won: its row stays, equal but in time
    finally:
        engine.dispose()
    log_batch_metrics(registry, quality)
    return BatchEvaluation(
        "evaluated",
        f"v{version.version}: accuracy {quality.accuracy:.4f} on {quality.rows} rows, "
        f"{quality.drift_summary()}",
        quality,
    )


def _graph(settings: Settings, registry: Registry, version: ModelVersion) -> GraphPredictor:
    """The champion's ONNX graph in ONNX Runtime, as the inference API serves it (no pickle loaded)."""
    path = version.tags.get(ONNX_ARTIFACT_TAG)
    if not path or not version.run_id:
        raise NoOnnxGraph(
            f"{registry.model_name} v{version.version} has no ONNX graph: retrain or promote another"
        )
    return GraphPredictor(registry.run_artifact(version.run_id, path), threads=settings.onnx_threads)


def _profile(registry: Registry, version: ModelVersion) -> ReferenceProfile | None:
    """The version's reference profile, None for a version trained before profiles were logged."""
    path = version.tags.get(PROFILE_TAG)
    if not path or not version.run_id:
        return None
    return ReferenceProfile.from_json(registry.run_artifact(version.run_id, path).decode())


def _score(
    settings: Settings,
    version: ModelVersion,
    graph: GraphPredictor,
    profile: ReferenceProfile | None,
    batch: pd.DataFrame,
    group_number: int,
    batch_number: int,
) -> BatchQuality:
    """The champion's scores on ``batch`` and the batch's drift against ``profile`` (if any)."""
    rows = list(batch[list(FEATURE_COLUMNS)].itertuples(index=False, name=None))
    predicted = graph.classes[np.argmax(graph.predict_proba(rows), axis=1)]
    scores = classification_scores(batch[TARGET_COLUMN].to_numpy(), predicted)
    drift = (
        None
        if profile is None
        else drift_report(
            profile, batch, threshold=settings.drift_threshold, significance=settings.drift_significance
        )
    )
    return BatchQuality(
        group_number=group_number,
        batch_number=batch_number,
        model_version=str(version.version),
        rows=len(batch),
        accuracy=scores.accuracy,
        macro_f1=scores.macro_f1,
        class_recall=scores.class_recall,
        drift_score=None if drift is None else drift.score,
        drift_status=DriftStatus.NO_PROFILE if drift is None else drift.status,
        drifted_features=[] if drift is None else drift.drifted,
        feature_psi={} if drift is None else drift.feature_psi,
        evaluated_at=utc_now(),
    )
