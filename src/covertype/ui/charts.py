"""Vega-Lite charts (Altair, served by Streamlit itself: no CDN) beyond what st.bar_chart can draw."""

from __future__ import annotations

import altair as alt
import pandas as pd

from covertype.ui import quality

_SERIES = {"rows_inserted": "stored", "duplicates": "duplicates", "rejected": "rejected"}


def ingestion_chart(runs: pd.DataFrame) -> alt.Chart:
    """Stacked rows per poll (stored, duplicates, rejected), one bar per run in time order.

    ``runs`` come newest first (as :func:`covertype.store.run_log.recent_ingestion_runs` reads them);
    a poll without a batch (a failed one) shows ``b-``, and polls in the same second get ``(2)``, ``(3)``.
    """
    frame = runs.iloc[::-1].copy()
    batches = frame["batch_number"].map(lambda batch: "-" if pd.isna(batch) else str(int(batch)))
    label = (
        frame["started_at"].dt.strftime("%H:%M:%S")
        + " g"
        + frame["group_number"].astype(str)
        + " b"
        + batches
    )
    repeat = label.groupby(label).cumcount()
    frame["poll"] = label + repeat.map(lambda n: f" ({n + 1})" if n else "")
    long = frame.melt(id_vars=["poll"], value_vars=list(_SERIES), var_name="rows", value_name="count")
    long["rows"] = long["rows"].map(_SERIES)
    return (
        alt.Chart(long, height=260)
        .mark_bar()
        .encode(
            x=alt.X(
                "poll:N",
                sort=None,
                title="poll (UTC time, group, batch)",
                axis=alt.Axis(labelAngle=0, labelLimit=160),
            ),
            y=alt.Y("count:Q", title="rows"),
            color=alt.Color(
                "rows:N",
                scale=alt.Scale(domain=list(_SERIES.values()), range=["#2e7d32", "#f9a825", "#c62828"]),
                legend=alt.Legend(orient="bottom", title=None),
            ),
            tooltip=["poll", "rows", "count"],
        )
    )


def history_chart(history: pd.DataFrame) -> alt.Chart:
    """Both accuracies per training run as lines with points, on an axis zoomed to the scores."""
    long = history.melt(id_vars=["training run"], var_name="series", value_name="holdout accuracy")
    return (
        alt.Chart(long.dropna(), height=300)
        .mark_line(point=alt.OverlayMarkDef(size=80))
        .encode(
            x=alt.X("training run:N", sort=None, axis=alt.Axis(labelAngle=0)),
            y=alt.Y("holdout accuracy:Q", scale=alt.Scale(zero=False), axis=alt.Axis(format=".1%")),
            color=alt.Color("series:N", legend=alt.Legend(orient="bottom", title=None)),
            tooltip=["training run", "series", alt.Tooltip("holdout accuracy:Q", format=".4f")],
        )
    )


def batch_accuracy_chart(accuracy: pd.DataFrame, stints: pd.DataFrame) -> alt.LayerChart:
    """The champion's accuracy on each batch (solid, points) against its holdout accuracy (dashed), one
    colour per version, with a labelled vertical rule where another version took over.

    ``accuracy`` and ``stints`` are :func:`covertype.ui.quality.batch_accuracy` and
    :func:`~covertype.ui.quality.version_stints`.
    """
    x_axis = alt.Axis(format="d", tickMinStep=1)
    y = alt.Y("accuracy:Q", title="accuracy", scale=alt.Scale(zero=False), axis=alt.Axis(format=".1%"))
    color = alt.Color(
        "version:N", scale=alt.Scale(scheme="tableau10"), legend=alt.Legend(orient="bottom", title="champion")
    )
    per_batch = (
        alt.Chart(accuracy)
        .mark_line(point=alt.OverlayMarkDef(size=70))
        .encode(
            x=alt.X("batch:Q", title="batch", axis=x_axis),
            y=y,
            color=color,
            detail="stint:N",
            tooltip=[
                "batch",
                "version",
                alt.Tooltip("accuracy:Q", format=".4f"),
                alt.Tooltip("macro_f1:Q", title="macro-F1", format=".4f"),
                "rows",
                alt.Tooltip("drift_score:Q", title="drift score", format=".3f"),
            ],
        )
    )
    holdout = (
        alt.Chart(stints.dropna(subset=["holdout_accuracy"]))
        .mark_rule(strokeDash=[6, 4], strokeWidth=2)
        .encode(
            x="start:Q",
            x2="end:Q",
            y="holdout_accuracy:Q",
            color=color,
            tooltip=["version", alt.Tooltip("holdout_accuracy:Q", title="holdout accuracy", format=".4f")],
        )
    )
    changes = stints[stints["change"]].assign(label=lambda frame: frame["version"] + " takes over")
    rules = alt.Chart(changes).mark_rule(color="#616161", strokeWidth=1.5).encode(x="start:Q")
    labels = (
        alt.Chart(changes)
        .mark_text(align="left", baseline="top", dx=4, dy=4, color="#424242")
        .encode(x="start:Q", y=alt.value(0), text="label:N")
    )
    return alt.layer(per_batch, holdout, rules, labels).properties(height=300)


def drift_map(cells: pd.DataFrame, *, threshold: float, features: list[str]) -> alt.LayerChart:
    """Features x batches, each cell coloured by its verdict (drifted ones red) with the PSI written in it
    while the batches fit; ``cells`` is :func:`covertype.ui.quality.drift_cells`."""
    labels = quality.level_labels(threshold)
    shown = cells.assign(drift=cells["level"].map(labels))
    x = alt.X("batch:O", title="batch", axis=alt.Axis(labelAngle=0))
    y = alt.Y("feature:N", sort=features, title=None, axis=alt.Axis(labelLimit=260))
    tiles = (
        alt.Chart(shown)
        .mark_rect(stroke="white", strokeWidth=1)
        .encode(
            x=x,
            y=y,
            color=alt.Color(
                "drift:N",
                scale=alt.Scale(
                    domain=[labels[level] for level in quality.DRIFT_LEVELS], range=_LEVEL_COLOURS
                ),
                legend=alt.Legend(
                    orient="bottom", title="PSI against the version's training data", titleLimit=400
                ),
            ),
            tooltip=["batch", "feature", alt.Tooltip("psi:Q", title="PSI", format=".3f"), "version"],
        )
    )
    layers: list[alt.Chart] = [tiles]
    if shown["batch"].nunique() <= _MAX_WRITTEN_BATCHES:
        layers.append(
            alt.Chart(shown)
            .mark_text(fontSize=10)
            .encode(
                x=x,
                y=y,
                text=alt.Text("psi:Q", format=".2f"),
                color=alt.condition(
                    alt.datum.level == quality.DRIFTED, alt.value("white"), alt.value("#212121")
                ),
            )
        )
    return alt.layer(*layers).properties(height=alt.Step(22))


#: Cell colours of the drift levels: no verdict, not drifted, drifted.
_LEVEL_COLOURS = ["#e0e0e0", "#c8e6c9", "#c62828"]
#: Up to this many batches the drift map writes each PSI in its cell; beyond, the tooltip tells it.
_MAX_WRITTEN_BATCHES = 16
