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

from covertype.model.version_tags import (
    ONNX_AGREEMENT_TAG,
    ONNX_ARTIFACT_PATH,
    ONNX_ARTIFACT_TAG,
    ONNX_LATENCY_TAG,
    ONNX_MAX_DIFF_TAG,
    ONNX_SIZE_TAG,
)
from covertype.promotion import CHALLENGER_ALIAS, champion_version
from covertype.settings import Settings
from covertype.training.evaluation import evaluate
from covertype.training.tracking import client

LAST_TRAINED_ROWS_TAG = "covertype.last_trained_rows"
LAST_TRAINED_DIGEST_TAG = "covertype.last_trained_digest"
SIZE_GATE_TAG = "covertype.size_gate"
_MB = 1_000_000


def servable_only(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The candidates whose ONNX export passed its faithfulness check: only these may become champion."""
    return [result for result in results if result.get("onnx_faithful")]


def servable(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """:func:`servable_only`, raising ``ValueError`` naming every candidate's reason when none passed."""
    eligible = servable_only(results)
    if results and not eligible:
        reasons = "; ".join(f"{r['name']}: {r.get('onnx_reason', 'not exported')}" for r in results)
        raise ValueError(f"no candidate has a faithful ONNX export, none can be served ({reasons})")
    return eligible


def _onnx_tags(result: dict[str, Any]) -> dict[str, str]:
    return {
        ONNX_ARTIFACT_TAG: ONNX_ARTIFACT_PATH,
        ONNX_SIZE_TAG: str(int(result["onnx_size_bytes"])),
        ONNX_AGREEMENT_TAG: f"{result['onnx_label_agreement']:.6f}",
        ONNX_MAX_DIFF_TAG: f"{result['onnx_max_probability_diff']:.3e}",
        ONNX_LATENCY_TAG: f"{result['onnx_latency_ms']:.4f}",
    }


def register_best(
    settings: Settings, *, results: list[dict[str, Any]], snapshot_digest: str
) -> dict[str, Any]:
    """Register the servable candidate with the best validation accuracy as a new version of the model.

    Candidates are ranked on the search's validation rows, not on the holdout, so the holdout score
    stays an unbiased estimate for the promotion decision. Only candidates with a faithful ONNX export
    compete (:func:`servable`); the export's figures become tags of the version.
    """
    if not results:
        raise ValueError("no trained candidate to register")
    best = max(servable(results), key=lambda result: result["validation_accuracy"])
    client(settings)
    version = mlflow.register_model(
        best["model_uri"],
        settings.model_name,
        tags={
            "covertype.candidate": best["name"],
            "covertype.snapshot_digest": snapshot_digest,
            "holdout_accuracy": f"{best['holdout_accuracy']:.6f}",
            "validation_accuracy": f"{best['validation_accuracy']:.6f}",
            **_onnx_tags(best),
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
    Before any comparison, the size gate refuses a version whose ONNX graph is larger than
    ``settings.max_model_mb`` (``COVERTYPE_MAX_MODEL_MB``), the reason in the ``covertype.size_gate`` tag.
    """
    mlflow_client = client(settings)
    current = champion_version(settings)
    champion_accuracy: float | None = None
    size_refusal = _size_gate(settings, mlflow_client.get_model_version(settings.model_name, version).tags)
    mlflow_client.set_model_version_tag(settings.model_name, version, SIZE_GATE_TAG, size_refusal or "passed")
    if size_refusal:
        promoted, reason = False, size_refusal
    elif current is None:
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


def _size_gate(settings: Settings, tags: dict[str, str]) -> str | None:
    """Why the version's ONNX graph is too large to serve, or None when it fits the budget."""
    size = tags.get(ONNX_SIZE_TAG)
    if size is None:
        return "refused: the version has no ONNX graph, so its size cannot be checked"
    megabytes = int(size) / _MB
    if megabytes > settings.max_model_mb:
        return (
            f"refused: ONNX graph {megabytes:.2f} MB exceeds COVERTYPE_MAX_MODEL_MB={settings.max_model_mb:g}"
        )
    return None


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
