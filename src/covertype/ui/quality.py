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

#: A cell of the drift map: no verdict on its batch (too few rows, measured before the size-aware test),
#: not drifted, or drifted (beyond chance at the batch's and the reference's sizes, PSI above the threshold).
NO_VERDICT, STABLE, DRIFTED = "no_verdict", "stable", "drifted"
DRIFT_LEVELS = (NO_VERDICT, STABLE, DRIFTED)


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


def drift_cells(rows: Sequence[BatchQuality]) -> pd.DataFrame:
    """Long table of the drift map: ``batch``, ``feature``, ``psi``, ``version`` and ``level`` (one of
    :data:`DRIFT_LEVELS`: the row's verdict on that feature).

    A batch evaluated by several versions shows its latest evaluation; rows without PSI (a version
    without a reference profile) are left out, so the frame is empty when no batch has drift figures.
    """
    latest = {row.batch_number: row for row in rows if row.feature_psi}
    cells = [
        {
            "batch": batch,
            "feature": feature,
            "psi": psi,
            "version": f"v{row.model_version}",
            "level": drift_level(row, feature),
        }
        for batch, row in sorted(latest.items())
        for feature, psi in row.feature_psi.items()
    ]
    return pd.DataFrame(cells, columns=["batch", "feature", "psi", "version", "level"])


def drift_level(row: BatchQuality, feature: str) -> str:
    """``drifted`` when the evaluation flagged ``feature``, ``no_verdict`` when it judged no drift on the
    batch (too few rows, measured before the size-aware test), else ``stable``: a large PSI alone is not
    drift, a small sample's noise makes one."""
    if feature in row.drifted_features:
        return DRIFTED
    return STABLE if row.drift_status.judged else NO_VERDICT


def level_labels(threshold: float) -> dict[str, str]:
    """The legend's text of each level, with the threshold in it."""
    return {
        NO_VERDICT: "no verdict (too few rows, or measured before the size-aware test)",
        STABLE: f"not drifted (within chance, or PSI ≤ {threshold:g})",
        DRIFTED: f"drifted (beyond chance and PSI > {threshold:g})",
    }
