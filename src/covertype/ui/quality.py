"""The Pipeline page's frames of ``batch_quality``: the champion's accuracy per batch and the drift map.

Pure pandas over :class:`~covertype.store.quality.BatchQuality` rows (as
:func:`covertype.store.quality.batch_quality_rows` reads them, by batch and then in evaluation order), so
the shaping is tested without a browser; :mod:`covertype.ui.charts` draws the frames.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from covertype.store.quality import BatchQuality

#: A PSI below this share of the threshold is "stable" (0.1 for the default 0.2: the usual rule of thumb).
_MODERATE_SHARE = 0.5
STABLE, MODERATE, DRIFTED = "stable", "moderate", "drifted"
DRIFT_LEVELS = (STABLE, MODERATE, DRIFTED)


def batch_accuracy(rows: Sequence[BatchQuality]) -> pd.DataFrame:
    """One line per evaluation: ``batch``, ``version`` (``v3``), ``accuracy``, ``macro_f1``, ``rows``,
    ``drift_score`` and ``stint``, the number of the run of consecutive evaluations by one version
    (a version serving again after a roll back starts a new stint)."""
    frame = pd.DataFrame(
        {
            "batch": [row.batch_number for row in rows],
            "version": [f"v{row.model_version}" for row in rows],
            "accuracy": [row.accuracy for row in rows],
            "macro_f1": [row.macro_f1 for row in rows],
            "rows": [row.rows for row in rows],
            "drift_score": pd.Series([row.drift_score for row in rows], dtype="float64"),
        }
    )
    frame["stint"] = (frame["version"] != frame["version"].shift()).cumsum()
    return frame


def holdout_by_version(versions: pd.DataFrame) -> dict[str, float | None]:
    """Holdout accuracy by version number (``"3"``) from
    :func:`covertype.registry.queries.registered_versions`; None for a version without one."""
    return {
        str(version): None if pd.isna(score) else float(score)
        for version, score in zip(versions["version"], versions["holdout_accuracy"], strict=True)
    }


def version_stints(accuracy: pd.DataFrame, holdout: Mapping[str, float | None]) -> pd.DataFrame:
    """One line per stint of :func:`batch_accuracy`: ``version``, ``first_batch``, ``last_batch``, the
    version's ``holdout_accuracy`` (from ``holdout``, keyed by version number without the ``v``; missing
    when unknown), ``start``/``end`` (half a batch around, so a one-batch stint is drawn too) and
    ``change`` (True from the second stint on: the champion changed there)."""
    stints = (
        accuracy.groupby("stint", sort=True)
        .agg(version=("version", "first"), first_batch=("batch", "min"), last_batch=("batch", "max"))
        .reset_index()
    )
    stints["holdout_accuracy"] = pd.Series(
        [holdout.get(version.removeprefix("v")) for version in stints["version"]], dtype="float64"
    )
    stints["start"] = stints["first_batch"] - 0.5
    stints["end"] = stints["last_batch"] + 0.5
    stints["change"] = stints["stint"] > stints["stint"].min()
    return stints


def drift_cells(rows: Sequence[BatchQuality], *, threshold: float) -> pd.DataFrame:
    """Long table of the drift map: ``batch``, ``feature``, ``psi``, ``version`` and ``level`` (one of
    :data:`DRIFT_LEVELS`: ``drifted`` above ``threshold``, ``moderate`` above half of it).

    A batch evaluated by several versions shows its latest evaluation; rows without PSI (a version
    without a reference profile) are left out, so the frame is empty when no batch has drift figures.
    """
    latest = {row.batch_number: row for row in rows if row.feature_psi}
    cells = [
        {"batch": batch, "feature": feature, "psi": psi, "version": f"v{row.model_version}"}
        for batch, row in sorted(latest.items())
        for feature, psi in row.feature_psi.items()
    ]
    frame = pd.DataFrame(cells, columns=["batch", "feature", "psi", "version"])
    frame["level"] = [drift_level(psi, threshold=threshold) for psi in frame["psi"]]
    return frame


def drift_level(psi: float, *, threshold: float) -> str:
    """``drifted`` above ``threshold`` (as the evaluation flags features), ``moderate`` above half of it."""
    if psi > threshold:
        return DRIFTED
    return MODERATE if psi > threshold * _MODERATE_SHARE else STABLE


def level_labels(threshold: float) -> dict[str, str]:
    """The legend's text of each level, with the threshold in it."""
    moderate = threshold * _MODERATE_SHARE
    return {
        STABLE: f"stable (PSI ≤ {moderate:g})",
        MODERATE: f"moderate ({moderate:g} < PSI ≤ {threshold:g})",
        DRIFTED: f"drifted (PSI > {threshold:g})",
    }
