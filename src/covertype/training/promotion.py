"""Training's use of the registry: register the best candidate, then promote it only when it measurably wins.

Promotion is one alias move after a comparison on the *current* holdout: the champion is re-evaluated
on the same rows the new version was scored on, so the comparison is fair even as data grows. The
decision, both scores and a paired test of the gain (is it beyond the noise of these rows?) are written
as tags on the new version, with the right answers of the newest versions on the same rows (the Models
page compares the versions on them). Stages are not used (deprecated).
The registry calls themselves are :class:`~covertype.registry.core.Registry`'s; the decision needs
scikit-learn, so it stays here (the UI image has none). Takes and returns the typed values of
:mod:`covertype.training.steps`.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd

from covertype.registry import tags
from covertype.registry.core import Registry
from covertype.registry.evidence import (
    HoldoutComparison,
    accuracy_text,
    gain_verdict,
    mcnemar_p_value,
    percent_decimals,
    wilson_interval,
)
from covertype.schema import FEATURE_COLUMNS, TARGET_COLUMN, WILDERNESS_AREAS
from covertype.settings import Settings
from covertype.training.steps import CandidateResult, PromotionOutcome, Registered

_MB = 1_000_000
#: How many of the newest versions each training re-scores on its holdout (the champion always is).
COMPARED_VERSIONS = 10


def servable_only(results: list[CandidateResult]) -> list[CandidateResult]:
    """The trained candidates whose ONNX export passed its faithfulness check: only these may be champion."""
    return [result for result in results if result.trained and result.export and result.export.faithful]


def _onnx_tags(result: CandidateResult) -> dict[str, str]:
    export = result.export
    assert export is not None  # noqa: S101 - servable_only kept only exported candidates
    timed = {}
    if export.latency is not None:
        timed = {
            tags.ONNX_SINGLE_P50_TAG: f"{export.latency.single_p50_ms:.4f}",
            tags.ONNX_SINGLE_P99_TAG: f"{export.latency.single_p99_ms:.4f}",
            tags.ONNX_BATCH_MS_TAG: f"{export.latency.batch_ms:.3f}",
        }
    evaluation = {tags.EVALUATION_MODEL_TAG: result.evaluation_model} if result.evaluation_model else {}
    return {
        **evaluation,
        tags.ONNX_ARTIFACT_TAG: tags.ONNX_ARTIFACT_PATH,
        tags.ONNX_SIZE_TAG: str(export.size_bytes),
        tags.ONNX_AGREEMENT_TAG: f"{export.label_agreement:.6f}",
        tags.ONNX_MAX_DIFF_TAG: f"{export.max_probability_diff:.3e}",
        **timed,
    }


def size_gate(settings: Settings, size_bytes: int | None) -> str | None:
    """Why a graph of ``size_bytes`` is too large to serve, or None when it fits COVERTYPE_MAX_MODEL_MB."""
    if size_bytes is None:
        return "refused: the version has no ONNX graph, so its size cannot be checked"
    megabytes = size_bytes / _MB
    if megabytes > settings.max_model_mb:
        return (
            f"refused: ONNX graph {megabytes:.2f} MB exceeds COVERTYPE_MAX_MODEL_MB={settings.max_model_mb:g}"
        )
    return None


def latency_gate(settings: Settings, batch_ms: float | None) -> str | None:
    """Why a graph whose 1,000-row batch takes ``batch_ms`` is too slow to serve, or None when it fits
    ``COVERTYPE_MAX_BATCH_MS``."""
    if batch_ms is None:
        return "refused: the version's ONNX graph was not timed on a 1,000-row batch: its latency is unknown"
    if batch_ms > settings.max_batch_ms:
        return (
            f"refused: a 1,000-row batch takes {batch_ms:.2f} ms in the ONNX graph, over "
            f"COVERTYPE_MAX_BATCH_MS={settings.max_batch_ms:g}"
        )
    return None


def gate_refusals(
    settings: Settings, size_bytes: int | None, batch_ms: float | None
) -> dict[str, str | None]:
    """Each gate's tag with why a graph of these figures may not be served (None where it passes)."""
    return {
        tags.SIZE_GATE_TAG: size_gate(settings, size_bytes),
        tags.LATENCY_GATE_TAG: latency_gate(settings, batch_ms),
    }


def within_budget(settings: Settings, result: CandidateResult) -> bool:
    """Whether ``result``'s graph passes the size and the latency gate."""
    export = result.export
    batch_ms = export.latency.batch_ms if export and export.latency else None
    return not any(gate_refusals(settings, export.size_bytes if export else None, batch_ms).values())


def register_best(
    settings: Settings, registry: Registry, *, servable: list[CandidateResult], snapshot_digest: str
) -> Registered:
    """Register the candidate with the best validation accuracy as a new version of the model.

    ``servable`` are the trained candidates :func:`servable_only` kept: only a faithful ONNX export can
    be served. Candidates are ranked on the search's validation rows, not on the holdout, so the holdout
    score stays an unbiased estimate for the promotion decision; one within the size and latency budget
    (:func:`within_budget`) comes before any that is not (which promotion would refuse). The export's
    figures become tags of the version.
    """
    if not servable:
        raise ValueError("no servable candidate to register")
    best = max(
        servable, key=lambda result: (within_budget(settings, result), result.validation_accuracy or 0.0)
    )
    assert best.model_uri is not None and best.holdout_accuracy is not None  # noqa: S101 - a trained one
    version = registry.register_logged_model(
        model_uri=best.model_uri,
        tags={
            tags.REGISTRATION_TAG: tags.REGISTRATION_INCOMPLETE,  # until register_best_candidate ends
            tags.CANDIDATE_TAG: best.name,
            tags.SNAPSHOT_DIGEST_TAG: snapshot_digest,
            tags.HOLDOUT_ACCURACY_TAG: f"{best.holdout_accuracy:.6f}",
            tags.VALIDATION_ACCURACY_TAG: f"{best.validation_accuracy:.6f}",
            **_onnx_tags(best),
        },
    )
    return Registered(
        version=version, run_id=best.run_id, candidate=best.name, holdout_accuracy=best.holdout_accuracy
    )


def promote_if_better(
    settings: Settings, registry: Registry, *, version: str, holdout_accuracy: float, holdout: pd.DataFrame
) -> PromotionOutcome:
    """Give ``version`` the serving alias if it beats the champion by more than ``settings.promotion_margin``.

    The first registered model always wins. Otherwise the champion is loaded and scored on ``holdout``
    (the rows ``holdout_accuracy`` was measured on); a loser, a tie included, gets ``challenger`` instead.
    The rule is the strict gain alone; an exact McNemar test on the rows only one of the two got right
    says, in the tags, whether that gain is beyond the noise of these rows. The newest versions are
    scored on the same rows too (:func:`compare_on_holdout`).
    A version whose registration did not complete (no ``covertype.registration`` = ``complete`` tag) is
    refused before anything else: rejected, no alias, the reason tag says so.
    Before any comparison, the size gate refuses a version whose ONNX graph is larger than
    ``settings.max_model_mb`` (``COVERTYPE_MAX_MODEL_MB``), the reason in the ``covertype.size_gate`` tag,
    and the latency gate one whose 1,000-row batch in the graph took longer than ``settings.max_batch_ms``
    (``COVERTYPE_MAX_BATCH_MS``), the reason in the ``covertype.latency_gate`` tag.
    A winner whose champion was replaced during the comparison (a user's roll back) is ``superseded``: it
    gets no alias, and the reason tag says what the champion became (:func:`_champion_change`).
    """
    current = registry.champion_version()
    champion_accuracy: float | None = None
    labels = registry.version_tags(version)
    if labels.get(tags.REGISTRATION_TAG) != tags.REGISTRATION_COMPLETE:
        reason = (
            f"refused: registration incomplete (no {tags.REGISTRATION_TAG} = {tags.REGISTRATION_COMPLETE}: "
            "the registration stopped before finishing)"
        )
        registry.set_version_tags(version, {tags.DECISION_TAG: tags.REJECTED, tags.REASON_TAG: reason})
        return _outcome(
            version,
            alias=None,
            reason=reason,
            decision=tags.REJECTED,
            challenger_accuracy=holdout_accuracy,
            champion_accuracy=None,
            champion=current,
        )
    size, batch_ms = labels.get(tags.ONNX_SIZE_TAG), labels.get(tags.ONNX_BATCH_MS_TAG)
    refusals = gate_refusals(
        settings, None if size is None else int(size), None if batch_ms is None else float(batch_ms)
    )
    registry.set_version_tags(version, {tag: refusal or "passed" for tag, refusal in refusals.items()})
    refusal = "; ".join(refusal for refusal in refusals.values() if refusal)
    right = _right_answers(registry, _compared_versions(registry, version, current), holdout)
    evidence = {
        tags.GAIN_VERDICT_TAG: "no champion to compare",
        tags.GAIN_P_VALUE_TAG: "",
        tags.GAIN_ROWS_TAG: "",
    }
    if refusal:
        promoted, reason = False, refusal
    elif current is None:
        promoted, reason = True, "first model"
    else:
        champion_accuracy = float(right[current].mean())
        gain = holdout_accuracy - champion_accuracy
        promoted = wins(gain, settings.promotion_margin)
        evidence = _paired_evidence(right[version], right[current])
        reason = _decision_sentence(
            promoted, new=right[version], champion=right[current], current=current, settings=settings
        ) + (
            f" (gain {gain * 100:+.{_gain_decimals(right[version], right[current])}f} points; exact McNemar "
            f"p = {float(evidence[tags.GAIN_P_VALUE_TAG]):.2g}: {evidence[tags.GAIN_VERDICT_TAG]})"
        )
    alias: str | None
    if not promoted:
        decision, alias = tags.REJECTED, registry.challenger_alias
        registry.set_alias(alias, version)
    elif (change := _champion_change(registry, compared_with=current)) is None:
        decision, alias = tags.PROMOTED, registry.serving_alias
        registry.set_alias(alias, version)  # right after the re-read: see _champion_change
    else:
        decision, alias = tags.SUPERSEDED, None
        reason = f"{reason}; but the champion changed during the comparison ({change}); not promoted"
    registry.set_version_tags(
        version,
        {
            tags.DECISION_TAG: decision,
            tags.REASON_TAG: reason,
            tags.CHALLENGER_ACCURACY_TAG: f"{holdout_accuracy:.6f}",
            tags.CHAMPION_ACCURACY_TAG: "" if champion_accuracy is None else f"{champion_accuracy:.6f}",
            tags.CHAMPION_VERSION_TAG: current or "",
            tags.MARGIN_TAG: str(settings.promotion_margin),
            tags.HOLDOUT_COMPARISON_TAG: compare_on_holdout(version, right, holdout).to_tag(),
            **evidence,
        },
    )
    return _outcome(
        version,
        alias=alias,
        reason=reason,
        decision=decision,
        challenger_accuracy=holdout_accuracy,
        champion_accuracy=champion_accuracy,
        champion=current,
    )


def _outcome(
    version: str,
    *,
    alias: str | None,
    reason: str,
    decision: str,
    challenger_accuracy: float,
    champion_accuracy: float | None,
    champion: str | None,
) -> PromotionOutcome:
    """What :func:`promote_if_better` answers."""
    return PromotionOutcome(
        version=version,
        alias=alias,
        promoted=decision == tags.PROMOTED,
        reason=reason,
        challenger_accuracy=challenger_accuracy,
        champion_accuracy=champion_accuracy,
        champion_version=champion,
        decision=decision,
    )


def _compared_versions(registry: Registry, version: str, champion: str | None) -> list[str]:
    """The new version, the champion and the newest others, up to :data:`COMPARED_VERSIONS` in all."""
    newest = sorted(registry.registered_version_numbers() | {version}, key=int, reverse=True)
    chosen = [version, *([champion] if champion else [])]
    chosen += [number for number in newest if number not in chosen]
    return chosen[:COMPARED_VERSIONS]


def _right_answers(registry: Registry, versions: list[str], holdout: pd.DataFrame) -> dict[str, np.ndarray]:
    """Per version, which holdout rows it classifies right (one bool per row, in ``holdout``'s order)."""
    features, truth = holdout[list(FEATURE_COLUMNS)], holdout[TARGET_COLUMN].to_numpy()
    return {number: _load_version(registry, number).predict(features) == truth for number in versions}


def compare_on_holdout(
    version: str, right: dict[str, np.ndarray], holdout: pd.DataFrame
) -> HoldoutComparison:
    """The right answers of each scored version on ``version``'s holdout, overall and per wilderness area."""
    areas = holdout["Wilderness_Area"].to_numpy()
    present = [area for area in WILDERNESS_AREAS if (areas == area).any()]
    return HoldoutComparison(
        version=version,
        rows=len(holdout),
        correct={number: int(answers.sum()) for number, answers in right.items()},
        area_rows={area: int((areas == area).sum()) for area in present},
        area_correct={
            number: {area: int(answers[areas == area].sum()) for area in present}
            for number, answers in right.items()
        },
    )


def _paired_evidence(new: np.ndarray, champion: np.ndarray) -> dict[str, str]:
    """The verdict tags of an exact McNemar test of ``new`` against ``champion`` on the same rows."""
    only_new, only_champion = int((new & ~champion).sum()), int((champion & ~new).sum())
    p_value = mcnemar_p_value(only_new, only_champion)
    return {
        tags.GAIN_VERDICT_TAG: gain_verdict(p_value),
        tags.GAIN_P_VALUE_TAG: f"{p_value:.4g}",
        tags.GAIN_ROWS_TAG: f"{only_new} / {only_champion} of {len(new)}",
    }


def _decision_sentence(
    promoted: bool, *, new: np.ndarray, champion: np.ndarray, current: str, settings: Settings
) -> str:
    """``accuracy 86.1% (84.8–87.3%) beats champion v1 85.0% (...) by more than the margin 0.0 on the
    same 3,020 holdout rows``, each accuracy at the precision its interval allows."""
    verb = "beats" if promoted else "does not beat"
    return (
        f"accuracy {_percent(new)} {verb} champion v{current} {_percent(champion)} by more than the margin "
        f"{settings.promotion_margin} on the same {len(new):,} holdout rows"
    )


def _percent(right: np.ndarray) -> str:
    return accuracy_text(int(right.sum()), len(right), with_rows=False)


def _gain_decimals(new: np.ndarray, champion: np.ndarray) -> int:
    """Decimals of the gain in points: those of the less precise of the two accuracies."""
    return min(
        percent_decimals(*wilson_interval(int(answers.sum()), len(answers))) for answers in (new, champion)
    )


def _champion_change(registry: Registry, *, compared_with: str | None) -> str | None:
    """How the serving alias moved since the comparison read it (``v2 -> v1, a roll back``), or None.

    Read again just before training moves the alias, so a roll back made while the champion was re-scored
    (seconds to minutes) is kept rather than overwritten by a version never compared with it. MLflow has
    no compare-and-set on aliases: this narrows the race to the gap between this read and the move (one
    registry round trip) without closing it; a roll back landing in that gap is still overwritten.
    """
    now = registry.champion_version()
    if now == compared_with:
        return None
    kind = ", a roll back" if now and compared_with and int(now) < int(compared_with) else ""
    return f"{_named(compared_with)} -> {_named(now)}{kind}"


def _named(version: str | None) -> str:
    return f"v{version}" if version else "none"


def _load_version(registry: Registry, version: str) -> Any:
    """The scikit-learn pipeline one registered version's holdout scores are of (unpickled: only from this
    trusted registry): its evaluation model when the registered one was refit on the holdout too."""
    with tempfile.TemporaryDirectory(prefix="covertype-champion-") as folder:
        evaluation = registry.version_tags(version).get(tags.EVALUATION_MODEL_TAG)
        if evaluation:
            path = registry.download_run_artifacts(
                registry.version(version).run_id or "", evaluation, Path(folder)
            )
        else:
            path = registry.download_version(version, Path(folder))
        return mlflow.sklearn.load_model(str(path))


def wins(gain: float, margin: float) -> bool:
    """Whether an accuracy ``gain`` over the champion is strictly more than ``margin``.

    Accuracies are ratios of counts: a gain equal to the margin but for float rounding is a tie, not a win.
    """
    return gain > margin and not math.isclose(gain, margin, rel_tol=0.0, abs_tol=1e-9)


def record_trained_data(registry: Registry, *, rows: int, digest: str) -> None:
    """Remember on the registered model which data the last completed training saw."""
    registry.set_model_tags({tags.LAST_TRAINED_ROWS_TAG: str(rows), tags.LAST_TRAINED_DIGEST_TAG: digest})


def last_trained_rows(registry: Registry) -> int | None:
    """Rows the last completed training saw, or None when nothing was trained yet."""
    value = registry.model_tag(tags.LAST_TRAINED_ROWS_TAG)
    return None if value is None else int(value)
