"""The Pipeline page's frames of ``batch_quality``: the champion's accuracy per batch and the drift map.

Pure pandas over :class:`~covertype.store.quality.BatchQuality` rows (as
:func:`covertype.store.quality.batch_quality_rows` reads them, by batch and then in evaluation order), so
the shaping is tested without a browser; :mod:`covertype.ui.charts` draws the frames.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

import pandas as pd

from covertype.registry.evidence import accuracy_text, wilson_interval
from covertype.store.quality import BatchQuality

#: A PSI below this share of the threshold is "stable" (0.1 for the default 0.2: the usual rule of thumb).
_MODERATE_SHARE = 0.5
STABLE, MODERATE, DRIFTED = "stable", "moderate", "drifted"
DRIFT_LEVELS = (STABLE, MODERATE, DRIFTED)


def batch_accuracy(rows: Sequence[BatchQuality]) -> pd.DataFrame:
    """One line per evaluation: ``batch``, ``version`` (``v3``), ``accuracy``, ``macro_f1``, ``rows``,
    ``drift_score``, ``low``/``high`` (its 95 % Wilson interval), ``text`` (accuracy and interval at
    the precision they allow) and ``stint``, the number of the run of consecutive evaluations by one
    version (a version serving again after a roll back starts a new stint)."""
    correct = [round(row.accuracy * row.rows) for row in rows]
    intervals = [wilson_interval(right, row.rows) for right, row in zip(correct, rows, strict=True)]
    frame = pd.DataFrame(
        {
            "batch": [row.batch_number for row in rows],
            "version": [f"v{row.model_version}" for row in rows],
            "accuracy": [row.accuracy for row in rows],
            "macro_f1": [row.macro_f1 for row in rows],
            "rows": [row.rows for row in rows],
            "drift_score": pd.Series([row.drift_score for row in rows], dtype="float64"),
            "low": [low for low, _ in intervals],
            "high": [high for _, high in intervals],
            "text": [
                accuracy_text(right, row.rows, with_rows=False)
                for right, row in zip(correct, rows, strict=True)
            ],
        }
    )
    frame["stint"] = (frame["version"] != frame["version"].shift()).cumsum()
    return frame


def batch_table(accuracy: pd.DataFrame) -> pd.DataFrame:
    """The time line as a table, newest batch first: batch, champion, rows, accuracy with its interval."""
    table = accuracy[["batch", "version", "rows", "text"]].iloc[::-1].reset_index(drop=True)
    return table.rename(columns={"version": "champion", "text": "accuracy (95% interval)"})


class OwnHoldout(NamedTuple):
    """A version's accuracy on its own holdout: the figure, its interval as text, and its rows."""

    accuracy: float
    text: str
    rows: int


def holdout_by_version(versions: pd.DataFrame) -> dict[str, OwnHoldout]:
    """Each version's accuracy on its own holdout by version number (``"3"``), from
    :func:`covertype.registry.queries.registered_versions`; versions without a score or rows are left out."""
    return {
        str(version): OwnHoldout(
            float(score), accuracy_text(round(score * rows), int(rows), with_rows=False), int(rows)
        )
        for version, score, rows in zip(
            versions["version"], versions["holdout_accuracy"], versions["holdout_rows"], strict=True
        )
        if not pd.isna(score) and not pd.isna(rows) and rows > 0
    }


def version_stints(accuracy: pd.DataFrame, holdout: Mapping[str, OwnHoldout]) -> pd.DataFrame:
    """One line per stint of :func:`batch_accuracy`: ``version``, ``first_batch``, ``last_batch``, the
    version's ``holdout_accuracy`` and ``holdout`` text (from ``holdout``, keyed by version number without
    the ``v``; missing when unknown), ``start``/``end`` (half a batch around, so a one-batch stint is drawn
    too) and ``change`` (True from the second stint on: the champion changed there)."""
    stints = (
        accuracy.groupby("stint", sort=True)
        .agg(version=("version", "first"), first_batch=("batch", "min"), last_batch=("batch", "max"))
        .reset_index()
    )
    known = [holdout.get(version.removeprefix("v")) for version in stints["version"]]
    stints["holdout_accuracy"] = pd.Series(
        [None if own is None else own.accuracy for own in known], dtype="float64"
    )
    stints["holdout"] = [None if own is None else f"{own.text} on {own.rows:,} rows" for own in known]
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
