"""Model registry: register the best candidate, then promote it only when it measurably wins.

Promotion is one alias move after a comparison on the *current* holdout: the champion is re-evaluated
on the same rows the new version was scored on, so the comparison is fair even as data grows. The
decision and both scores are written as tags on the new version. Stages are not used (deprecated).
"""

from __future__ import annotations

import math
from typing import Any

import mlflow
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import RESOURCE_DOES_NOT_EXIST, ErrorCode

from covertype.promotion import CHALLENGER_ALIAS, champion_version
from covertype.settings import Settings
from covertype.training.evaluation import evaluate
from covertype.training.tracking import client

LAST_TRAINED_ROWS_TAG = "covertype.last_trained_rows"
LAST_TRAINED_DIGEST_TAG = "covertype.last_trained_digest"


def register_best(
    settings: Settings, *, results: list[dict[str, Any]], snapshot_digest: str
) -> dict[str, Any]:
    """Register the candidate with the best validation accuracy as a new version of the model.

    Candidates are ranked on the search's validation rows, not on the holdout, so the holdout score
    stays an unbiased estimate for the promotion decision.
    """
    if not results:
        raise ValueError("no trained candidate to register")
    best = max(results, key=lambda result: result["validation_accuracy"])
    client(settings)
    version = mlflow.register_model(
        best["model_uri"],
        settings.model_name,
        tags={
            "covertype.candidate": best["name"],
            "covertype.snapshot_digest": snapshot_digest,
            "holdout_accuracy": f"{best['holdout_accuracy']:.6f}",
            "validation_accuracy": f"{best['validation_accuracy']:.6f}",
        },
    )
    return {
        "version": str(version.version),
        "run_id": best["run_id"],
        "candidate": best["name"],
        "holdout_accuracy": best["holdout_accuracy"],
    }


def promote_if_better(
    settings: Settings, *, version: str, holdout_accuracy: float, holdout: pd.DataFrame
) -> dict[str, Any]:
    """Give ``version`` the serving alias if it beats the champion by more than ``settings.promotion_margin``.

    The first registered model always wins. Otherwise the champion is loaded and scored on ``holdout``
    (the rows ``holdout_accuracy`` was measured on); a loser, a tie included, gets ``challenger`` instead.
    """
    mlflow_client = client(settings)
    current = champion_version(settings)
    champion_accuracy: float | None = None
    if current is None:
        promoted, reason = True, "first model"
    else:
        champion = mlflow.sklearn.load_model(f"models:/{settings.model_name}/{current}")
        champion_accuracy = evaluate(champion, holdout).metrics["holdout_accuracy"]
        gain = holdout_accuracy - champion_accuracy
        promoted = wins(gain, settings.promotion_margin)
        verb = "beats" if promoted else "does not beat"
        reason = (
            f"accuracy {holdout_accuracy:.4f} {verb} champion v{current} {champion_accuracy:.4f} "
            f"by more than the margin {settings.promotion_margin} (gain {gain:+.4f})"
        )
    alias = settings.model_alias if promoted else CHALLENGER_ALIAS
    mlflow_client.set_registered_model_alias(settings.model_name, alias, version)
    evidence = {
        "covertype.promotion_decision": "promoted" if promoted else "rejected",
        "covertype.promotion_reason": reason,
        "covertype.challenger_holdout_accuracy": f"{holdout_accuracy:.6f}",
        "covertype.champion_holdout_accuracy": ""
        if champion_accuracy is None
        else f"{champion_accuracy:.6f}",
        "covertype.champion_version": current or "",
        "covertype.promotion_margin": str(settings.promotion_margin),
    }
    for key, value in evidence.items():
        mlflow_client.set_model_version_tag(settings.model_name, version, key, value)
    return {
        "version": version,
        "alias": alias,
        "promoted": promoted,
        "reason": reason,
        "challenger_accuracy": holdout_accuracy,
        "champion_accuracy": champion_accuracy,
        "champion_version": current,
    }


def wins(gain: float, margin: float) -> bool:
    """Whether an accuracy ``gain`` over the champion is strictly more than ``margin``.

    Accuracies are ratios of counts: a gain equal to the margin but for float rounding is a tie, not a win.
    """
    return gain > margin and not math.isclose(gain, margin, rel_tol=0.0, abs_tol=1e-9)


def record_trained_data(settings: Settings, *, rows: int, digest: str) -> None:
    """Remember on the registered model which data the last completed training saw."""
    mlflow_client = client(settings)
    mlflow_client.set_registered_model_tag(settings.model_name, LAST_TRAINED_ROWS_TAG, str(rows))
    mlflow_client.set_registered_model_tag(settings.model_name, LAST_TRAINED_DIGEST_TAG, digest)


def last_trained_rows(settings: Settings) -> int | None:
    """Rows the last completed training saw, or None when nothing was trained yet."""
    try:
        model = client(settings).get_registered_model(settings.model_name)
    except MlflowException as exc:
        if exc.error_code == ErrorCode.Name(RESOURCE_DOES_NOT_EXIST):
            return None
        raise
    value = model.tags.get(LAST_TRAINED_ROWS_TAG)
    return None if value is None else int(value)
