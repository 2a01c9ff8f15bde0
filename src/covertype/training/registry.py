"""Training's use of the registry: register the best candidate, then promote it only when it measurably wins.

Promotion is one alias move after a comparison on the *current* holdout: the champion is re-evaluated
on the same rows the new version was scored on, so the comparison is fair even as data grows. The
decision and both scores are written as tags on the new version. Stages are not used (deprecated).
The registry calls themselves are :mod:`covertype.registry`'s; the decision needs scikit-learn, so it
stays here (the UI image has none).
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd

from covertype.registry import tags
from covertype.registry.aliases import champion_version, set_alias
from covertype.registry.versions import (
    download_version,
    model_tag,
    register_logged_model,
    set_model_tags,
    set_version_tags,
    version_tags,
)
from covertype.settings import Settings
from covertype.training.evaluation import evaluate

_MB = 1_000_000


def servable_only(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The candidates whose ONNX export passed its faithfulness check: only these may become champion."""
    return [result for result in results if result.get("onnx_faithful")]


def _onnx_tags(result: dict[str, Any]) -> dict[str, str]:
    return {
        tags.ONNX_ARTIFACT_TAG: tags.ONNX_ARTIFACT_PATH,
        tags.ONNX_SIZE_TAG: str(int(result["onnx_size_bytes"])),
        tags.ONNX_AGREEMENT_TAG: f"{result['onnx_label_agreement']:.6f}",
        tags.ONNX_MAX_DIFF_TAG: f"{result['onnx_max_probability_diff']:.3e}",
        tags.ONNX_LATENCY_TAG: f"{result['onnx_latency_ms']:.4f}",
    }


def register_best(
    settings: Settings, *, servable: list[dict[str, Any]], snapshot_digest: str
) -> dict[str, Any]:
    """Register the candidate with the best validation accuracy as a new version of the model.

    ``servable`` are the trained candidates :func:`servable_only` kept: only a faithful ONNX export can
    be served. Candidates are ranked on the search's validation rows, not on the holdout, so the holdout
    score stays an unbiased estimate for the promotion decision. The export's figures become tags of the
    version.
    """
    if not servable:
        raise ValueError("no servable candidate to register")
    best = max(servable, key=lambda result: result["validation_accuracy"])
    version = register_logged_model(
        settings,
        model_uri=best["model_uri"],
        tags={
            tags.CANDIDATE_TAG: best["name"],
            tags.SNAPSHOT_DIGEST_TAG: snapshot_digest,
            tags.HOLDOUT_ACCURACY_TAG: f"{best['holdout_accuracy']:.6f}",
            tags.VALIDATION_ACCURACY_TAG: f"{best['validation_accuracy']:.6f}",
            **_onnx_tags(best),
        },
    )
    return {
        "version": version,
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
    A winner whose champion was replaced during the comparison (a user's roll back) is ``superseded``: it
    gets no alias, and the reason tag says what the champion became (:func:`_champion_change`).
    """
    current = champion_version(settings)
    champion_accuracy: float | None = None
    size_refusal = _size_gate(settings, version_tags(settings, version))
    set_version_tags(settings, version, {tags.SIZE_GATE_TAG: size_refusal or "passed"})
    if size_refusal:
        promoted, reason = False, size_refusal
    elif current is None:
        promoted, reason = True, "first model"
    else:
        champion_accuracy = evaluate(_load_version(settings, current), holdout).metrics["holdout_accuracy"]
        gain = holdout_accuracy - champion_accuracy
        promoted = wins(gain, settings.promotion_margin)
        verb = "beats" if promoted else "does not beat"
        reason = (
            f"accuracy {holdout_accuracy:.4f} {verb} champion v{current} {champion_accuracy:.4f} "
            f"by more than the margin {settings.promotion_margin} (gain {gain:+.4f})"
        )
    alias: str | None
    if not promoted:
        decision, alias = tags.REJECTED, tags.CHALLENGER_ALIAS
        set_alias(settings, alias, version)
    elif (change := _champion_change(settings, compared_with=current)) is None:
        decision, alias = tags.PROMOTED, settings.model_alias
        set_alias(settings, alias, version)  # right after the re-read: see _champion_change
    else:
        promoted, decision, alias = False, tags.SUPERSEDED, None
        reason = f"{reason}; but the champion changed during the comparison ({change}); not promoted"
    set_version_tags(
        settings,
        version,
        {
            tags.DECISION_TAG: decision,
            tags.REASON_TAG: reason,
            tags.CHALLENGER_ACCURACY_TAG: f"{holdout_accuracy:.6f}",
            tags.CHAMPION_ACCURACY_TAG: "" if champion_accuracy is None else f"{champion_accuracy:.6f}",
            tags.CHAMPION_VERSION_TAG: current or "",
            tags.MARGIN_TAG: str(settings.promotion_margin),
        },
    )
    return {
        "version": version,
        "alias": alias,
        "promoted": promoted,
        "reason": reason,
        "challenger_accuracy": holdout_accuracy,
        "champion_accuracy": champion_accuracy,
        "champion_version": current,
        "decision": decision,
    }


def _champion_change(settings: Settings, *, compared_with: str | None) -> str | None:
    """How the serving alias moved since the comparison read it (``v2 -> v1, a roll back``), or None.

    Read again just before training moves the alias, so a roll back made while the champion was re-scored
    (seconds to minutes) is kept rather than overwritten by a version never compared with it. MLflow has
    no compare-and-set on aliases: this narrows the race to the gap between this read and the move (one
    registry round trip) without closing it; a roll back landing in that gap is still overwritten.
    """
    now = champion_version(settings)
    if now == compared_with:
        return None
    kind = ", a roll back" if now and compared_with and int(now) < int(compared_with) else ""
    return f"{_named(compared_with)} -> {_named(now)}{kind}"


def _named(version: str | None) -> str:
    return f"v{version}" if version else "none"


def _load_version(settings: Settings, version: str) -> Any:
    """The scikit-learn pipeline of one registered version (unpickled: only from this trusted registry)."""
    with tempfile.TemporaryDirectory(prefix="covertype-champion-") as folder:
        return mlflow.sklearn.load_model(str(download_version(settings, version, Path(folder))))


def _size_gate(settings: Settings, labels: dict[str, str]) -> str | None:
    """Why the version's ONNX graph is too large to serve, or None when it fits the budget."""
    size = labels.get(tags.ONNX_SIZE_TAG)
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
    set_model_tags(settings, {tags.LAST_TRAINED_ROWS_TAG: str(rows), tags.LAST_TRAINED_DIGEST_TAG: digest})


def last_trained_rows(settings: Settings) -> int | None:
    """Rows the last completed training saw, or None when nothing was trained yet."""
    value = model_tag(settings, tags.LAST_TRAINED_ROWS_TAG)
    return None if value is None else int(value)
