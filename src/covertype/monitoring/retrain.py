"""Retrain for a reason: the decision ``covertype_train``'s first step takes from three signals.

1. enough new rows since the last training (``COVERTYPE_MIN_NEW_ROWS``; the default, 1, keeps training on
   any new row, as before),
2. the champion's accuracy on the latest batch more than ``COVERTYPE_ACCURACY_DROP`` below its holdout
   accuracy (the model got worse on the data that now arrives),
3. the latest batch's drift score above ``COVERTYPE_DRIFT_THRESHOLD`` (the data moved away from what the
   champion was trained on, before the accuracy shows it).

Pure: the caller reads the signals (new rows from the store, the champion's latest ``batch_quality`` row
via :func:`covertype.store.quality.latest_batch_quality`, its holdout accuracy from the registry).
"""

from __future__ import annotations

from dataclasses import dataclass

#: The signal that decided, as recorded on the training run and the version it produces.
NEW_ROWS, ACCURACY_DROP, DRIFT, NONE = "new_rows", "accuracy_drop", "drift", "none"


@dataclass(frozen=True)
class RetrainDecision:
    """Whether to train, the deciding signal (one of the constants above) and a sentence saying why."""

    train: bool
    signal: str
    reason: str


def decide_retraining(
    *,
    new_rows: int,
    min_new_rows: int,
    batch_accuracy: float | None,
    holdout_accuracy: float | None,
    accuracy_drop: float,
    drift_score: float | None,
    drift_threshold: float,
) -> RetrainDecision:
    """Train when any signal fires, checked in the order new rows, accuracy drop, drift.

    A batch signal counts only when there are new rows to train on (a champion cannot be improved on the
    data it was trained on). ``None`` means the signal is unavailable (no evaluated batch, no profile).
    """
    if new_rows <= 0:
        return RetrainDecision(False, NONE, "no new rows since the last training")
    if new_rows >= min_new_rows:
        return RetrainDecision(True, NEW_ROWS, f"{new_rows} new rows (at least {min_new_rows} needed)")
    if batch_accuracy is not None and holdout_accuracy is not None:
        drop = holdout_accuracy - batch_accuracy
        if drop > accuracy_drop:
            return RetrainDecision(
                True,
                ACCURACY_DROP,
                f"latest batch accuracy {batch_accuracy:.4f} is {drop:.4f} below the holdout accuracy "
                f"{holdout_accuracy:.4f} (more than {accuracy_drop})",
            )
    if drift_score is not None and drift_score > drift_threshold:
        return RetrainDecision(
            True, DRIFT, f"latest batch drift score {drift_score:.3f} above the threshold {drift_threshold}"
        )
    return RetrainDecision(
        False,
        NONE,
        f"{new_rows} new rows ({min_new_rows} needed), accuracy within {accuracy_drop} of the holdout's, "
        f"drift at most {drift_threshold}",
    )
