"""Holdout metrics, the pickled size and the human-readable artifacts of one trained pipeline.

The latency that matters is the served graph's (:mod:`covertype.model.graph_latency`), not the pipeline's.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cloudpickle
import numpy as np
import pandas as pd
from sklearn.metrics import (
    accuracy_score,
    classification_report,
    confusion_matrix,
    f1_score,
    log_loss,
    precision_recall_fscore_support,
)

from covertype.schema import COVER_TYPES, FEATURE_COLUMNS, TARGET_COLUMN, WILDERNESS_AREAS

CLASSES: list[int] = list(COVER_TYPES)


@dataclass
class Evaluation:
    """Metrics (MLflow names, all prefixed ``holdout_``), the confusion matrix and the text report."""

    metrics: dict[str, float]
    confusion: np.ndarray
    report: str


def evaluate(model: Any, holdout: pd.DataFrame) -> Evaluation:
    """Score ``model`` on ``holdout`` (canonical columns): overall, per class and per wilderness area."""
    features, truth = holdout[list(FEATURE_COLUMNS)], holdout[TARGET_COLUMN].to_numpy()
    predicted = model.predict(features)
    probabilities = _all_class_probabilities(model, features)
    metrics = {
        "holdout_accuracy": float(accuracy_score(truth, predicted)),
        "holdout_macro_f1": float(
            f1_score(truth, predicted, labels=CLASSES, average="macro", zero_division=0)
        ),
        "holdout_log_loss": float(log_loss(truth, probabilities, labels=CLASSES)),
        "holdout_rows": float(len(holdout)),
    }
    precision, recall, _, _ = precision_recall_fscore_support(
        truth, predicted, labels=CLASSES, zero_division=0
    )
    for label, class_precision, class_recall in zip(CLASSES, precision, recall, strict=True):
        metrics[f"holdout_precision_class_{label}"] = float(class_precision)
        metrics[f"holdout_recall_class_{label}"] = float(class_recall)
    areas = holdout["Wilderness_Area"].to_numpy()
    for area in WILDERNESS_AREAS:
        in_area = areas == area
        if in_area.any():
            metrics[f"holdout_accuracy_{area}"] = float(accuracy_score(truth[in_area], predicted[in_area]))
    report = classification_report(
        truth,
        predicted,
        labels=CLASSES,
        target_names=[f"{label} {name}" for label, name in COVER_TYPES.items()],
        digits=4,
        zero_division=0,
    )
    return Evaluation(metrics, confusion_matrix(truth, predicted, labels=CLASSES), str(report))


def _all_class_probabilities(model: Any, features: pd.DataFrame) -> np.ndarray:
    """``predict_proba`` spread over all seven classes (a class absent from training gets 0)."""
    probabilities = model.predict_proba(features)
    full = np.zeros((len(features), len(CLASSES)))
    for column, label in enumerate(model.classes_):
        full[:, CLASSES.index(int(label))] = probabilities[:, column]
    return full


def pickled_size_bytes(model: Any) -> int:
    """Bytes of the pipeline as MLflow stores it (cloudpickle)."""
    return len(cloudpickle.dumps(model))


def save_confusion_matrix(confusion: np.ndarray, path: Path, *, title: str) -> Path:
    """A labelled heat map of ``confusion`` (rows: true class) as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    names = [f"{label} {name}" for label, name in COVER_TYPES.items()]
    figure, axes = plt.subplots(figsize=(8, 7))
    try:
        image = axes.imshow(confusion, cmap="Blues")
        figure.colorbar(image, ax=axes)
        axes.set(
            xticks=range(len(names)), yticks=range(len(names)), xlabel="predicted", ylabel="true", title=title
        )
        axes.set_xticklabels(names, rotation=45, ha="right")
        axes.set_yticklabels(names)
        threshold = confusion.max() / 2 if confusion.size else 0
        for (row, column), count in np.ndenumerate(confusion):
            colour = "white" if count > threshold else "black"
            axes.text(column, row, str(count), ha="center", va="center", color=colour, fontsize=8)
        figure.tight_layout()
        figure.savefig(path, dpi=100)
    finally:
        plt.close(figure)
    return path


def model_card(
    *,
    candidate: str,
    params: dict[str, Any],
    metrics: dict[str, float],
    snapshot: dict[str, Any],
    train_rows: int,
    holdout_rows: int,
    holdout_refit: bool = False,
) -> str:
    """A short Markdown model card: what the model is, what it was trained on, how well it does."""
    areas = ", ".join(
        f"{area} {metrics[f'holdout_accuracy_{area}']:.4f}"
        for area in WILDERNESS_AREAS
        if f"holdout_accuracy_{area}" in metrics
    )
    parameters = "\n".join(f"- `{key}` = `{value}`" for key, value in sorted(params.items()))
    fitted_on = (
        f"fitted on all {train_rows + holdout_rows} rows; the holdout figures are of the same candidate "
        f"fitted on the {train_rows} training rows alone"
        if holdout_refit
        else f"fitted on the {train_rows} training rows"
    )
    return f"""# covertype model card: {candidate}

**Task**: predict the forest cover type (1..7, {", ".join(COVER_TYPES.values())}) of a 30 m cell
from cartographic variables (the 12 canonical feature columns; US Forest Service Region 2, Roosevelt
National Forest, Colorado).

**Model**: scikit-learn Pipeline (engineered terrain features, categorical encoding, `{candidate}`).
Input: a pandas DataFrame with the 12 feature columns; `predict_proba` covers classes 1..7.

**Data**: snapshot `{snapshot["uri"]}` (digest `{snapshot["digest"]}`, {snapshot["rows"]} rows);
{train_rows} training rows, {holdout_rows} holdout rows chosen by `row_hash`; {fitted_on}.

**Holdout**: accuracy {metrics["holdout_accuracy"]:.4f}, macro-F1 {metrics["holdout_macro_f1"]:.4f},
log-loss {metrics["holdout_log_loss"]:.4f}. Accuracy per wilderness area: {areas}.

**Parameters**:
{parameters}

**Limits**: trained only on the four wilderness areas of the Roosevelt National Forest; rare classes
(Cottonwood/Willow, Aspen) have few examples, so check their per-class recall before relying on them.
"""
