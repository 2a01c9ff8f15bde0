"""Drift of a batch against a reference profile: the population stability index (PSI) per feature.

``PSI = sum over bins of (batch share - reference share) * ln(batch share / reference share)``, with both
shares floored at :data:`EPSILON` so an empty bin stays finite. Rules of thumb: below 0.1 stable, 0.1-0.2
a moderate shift, above 0.2 (``COVERTYPE_DRIFT_THRESHOLD``'s default) a shift worth acting on.

Hand-written with numpy rather than taken from a library: evidently or nannyml would bring large
dependency trees (their own pandas/plotly/scipy pins, report engines) into the pipeline image for one
formula of three lines, which the tests here check directly.

The batch's drift score is the **largest** PSI of any feature: a shift of a single feature (Elevation, say)
is what matters for a tree model, and a mean over twelve features would dilute it below any threshold.

The label counts as a feature here (``Cover_Type``, measured when the profile has the classes' shares and
the batch its labels): a change of the classes' mix (prior shift) moves the features only weakly, through
their correlation with the class, and went unflagged before the label was measured (see the README's shift
replay).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from covertype.monitoring.profile import (
    CATEGORIES,
    LABEL_CODES,
    ReferenceProfile,
    bin_shares,
    category_shares,
    label_shares,
)
from covertype.schema import TARGET_COLUMN

#: Floor of a bin's share, so an empty bin on either side adds a large but finite term.
EPSILON = 1e-4
#: Codes rarer than this in the reference are pooled into one bin: with 40 soil types, a batch of a few
#: hundred rows misses many rare ones by chance, which alone pushed a clean batch's PSI above 0.2.
RARE_SHARE = 0.02


@dataclass(frozen=True)
class DriftReport:
    """PSI per feature, the batch's score (the largest PSI) and the features above the threshold."""

    feature_psi: dict[str, float]
    score: float
    drifted: list[str]


def population_stability_index(reference: np.ndarray, actual: np.ndarray) -> float:
    """PSI of the bin shares ``actual`` against ``reference`` (same bins, each summing to 1)."""
    expected = np.clip(np.asarray(reference, dtype=np.float64), EPSILON, None)
    observed = np.clip(np.asarray(actual, dtype=np.float64), EPSILON, None)
    return float(np.sum((observed - expected) * np.log(observed / expected)))


def pooled_psi(reference: np.ndarray, actual: np.ndarray) -> float:
    """PSI over codes, those rarer than :data:`RARE_SHARE` in the reference pooled into one bin."""
    rare = reference < RARE_SHARE
    return population_stability_index(
        np.append(reference[~rare], reference[rare].sum()), np.append(actual[~rare], actual[rare].sum())
    )


def feature_psi(profile: ReferenceProfile, batch: pd.DataFrame) -> dict[str, float]:
    """The PSI of every profiled feature of ``batch`` against ``profile``, and of the label (``Cover_Type``)
    when both have one."""
    psi = {
        name: population_stability_index(
            numeric.proportions, bin_shares(batch[name].to_numpy(dtype=np.float64), numeric.edges)
        )
        for name, numeric in profile.numeric.items()
    }
    for name, categorical in profile.categorical.items():
        codes = CATEGORIES[name]
        psi[name] = pooled_psi(categorical.shares(codes), category_shares(batch[name], codes))
    if profile.labels is not None and TARGET_COLUMN in batch.columns:
        labels = label_shares(batch[TARGET_COLUMN])
        psi[TARGET_COLUMN] = pooled_psi(profile.labels.shares(LABEL_CODES), labels)
    return psi


def drift_report(profile: ReferenceProfile, batch: pd.DataFrame, *, threshold: float) -> DriftReport:
    """PSI per feature, the batch's drift score and the features whose PSI is above ``threshold``."""
    if batch.empty:
        raise ValueError("cannot measure the drift of an empty batch")
    psi = feature_psi(profile, batch)
    drifted = sorted((name for name, value in psi.items() if value > threshold), key=lambda n: -psi[n])
    return DriftReport(feature_psi=psi, score=max(psi.values()), drifted=drifted)
