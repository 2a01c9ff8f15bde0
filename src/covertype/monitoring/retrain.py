"""Retrain for a reason: the decision ``covertype_train``'s first step takes from three signals.

1. enough new rows since the last training (``COVERTYPE_MIN_NEW_ROWS``; the default, 1, keeps training on
   any new row, as before),
2. the champion's accuracy on the latest evaluated batch more than ``COVERTYPE_ACCURACY_DROP`` below its
   holdout accuracy (the model got worse on the data that now arrives),
3. the latest batch drifted: a feature's difference from the champion's training data is beyond chance at
   the two sample sizes and its PSI is above ``COVERTYPE_DRIFT_THRESHOLD``, i.e. the batch's drift score is
   above it (the data moved away from what the champion was trained on, before the accuracy shows it). A
   batch without a verdict (too few rows, no reference profile) never fires it.

Before those: an empty store is never trained on, ``force`` trains, and so does the first training.

Pure: the caller reads the signals (:class:`RetrainSignals`: the row counts from the store, the champion's
latest ``batch_quality`` row via :func:`covertype.store.quality.latest_batch_quality`, its holdout accuracy
from the registry).
"""

from __future__ import annotations

from dataclasses import dataclass

from covertype.settings import Settings
from covertype.store.quality import BatchQuality, DriftStatus

#: The signal that decided, as recorded on the training run and the version it produces.
NEW_ROWS, ACCURACY_DROP, DRIFT, NONE = "new_rows", "accuracy_drop", "drift", "none"
#: Trained without looking at the signals: asked by hand (``force``), or no training happened yet.
FORCED, FIRST_MODEL = "forced", "first_model"


@dataclass(frozen=True)
class RetrainDecision:
    """Whether to train, the deciding signal (one of the constants above) and a sentence saying why."""

    train: bool
    signal: str
    reason: str


@dataclass(frozen=True)
class RetrainSignals:
    """What the decision reads: the store's rows, and the champion's latest evaluated batch and holdout.

    ``last_trained_rows`` is None before the first training; ``latest`` is None when the champion was never
    evaluated on a batch (or there is no champion); ``holdout_accuracy`` None when unknown.
    """

    stored_rows: int
    last_trained_rows: int | None
    latest: BatchQuality | None = None
    holdout_accuracy: float | None = None

    @property
    def new_rows(self) -> int:
        return self.stored_rows - (self.last_trained_rows or 0)


def decide_retraining(signals: RetrainSignals, settings: Settings, *, force: bool = False) -> RetrainDecision:
    """Train when a signal fires; the reason names the most telling one: accuracy drop, drift, new rows.

    The thresholds are ``settings``' (``min_new_rows``, ``accuracy_drop``; the drift verdict was taken with
    ``drift_threshold`` and ``drift_significance`` when the batch was evaluated). A batch
    signal counts only when there are new rows to train on (a champion cannot be improved on the data it
    was trained on).
    """
    if signals.stored_rows == 0:
        return RetrainDecision(False, NONE, "the store holds no rows yet")
    if force:
        return RetrainDecision(True, FORCED, "forced")
    if signals.last_trained_rows is None:
        return RetrainDecision(True, FIRST_MODEL, "no model trained yet")
    new_rows, needed = signals.new_rows, settings.min_new_rows
    if new_rows <= 0:
        return RetrainDecision(False, NONE, "no new rows since the last training")
    fired = _accuracy_drop(signals, settings) or _drift(signals.latest, settings)
    if fired:
        return fired
    if new_rows >= needed:
        return RetrainDecision(True, NEW_ROWS, f"{new_rows} new rows (at least {needed} needed)")
    return RetrainDecision(
        False,
        NONE,
        f"{new_rows} new rows since the last training, {needed} needed; latest batch accuracy within "
        f"COVERTYPE_ACCURACY_DROP={settings.accuracy_drop:g} of the holdout, no drift beyond chance above "
        f"COVERTYPE_DRIFT_THRESHOLD={settings.drift_threshold:g} (or no verdict)",
    )


def _accuracy_drop(signals: RetrainSignals, settings: Settings) -> RetrainDecision | None:
    latest, holdout = signals.latest, signals.holdout_accuracy
    if latest is None or holdout is None:
        return None
    drop = holdout - latest.accuracy
    if drop <= settings.accuracy_drop:
        return None
    return RetrainDecision(
        True,
        ACCURACY_DROP,
        f"accuracy {latest.accuracy:.4f} of v{latest.model_version} on {_batch(latest)} is {drop:.4f} below "
        f"its holdout accuracy {holdout:.4f} (COVERTYPE_ACCURACY_DROP={settings.accuracy_drop:g})",
    )


def _drift(latest: BatchQuality | None, settings: Settings) -> RetrainDecision | None:
    if latest is None or latest.drift_status != DriftStatus.DRIFTED or latest.drift_score is None:
        return None
    return RetrainDecision(
        True,
        DRIFT,
        f"drift score {latest.drift_score:.3f} of {_batch(latest)} against v{latest.model_version}'s "
        f"training data is beyond chance (COVERTYPE_DRIFT_SIGNIFICANCE={settings.drift_significance:g}) "
        f"and above COVERTYPE_DRIFT_THRESHOLD={settings.drift_threshold:g} "
        f"(drifted: {', '.join(latest.drifted_features)})",
    )


def _batch(quality: BatchQuality) -> str:
    return f"group {quality.group_number} batch {quality.batch_number}"
