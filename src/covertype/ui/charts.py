"""Vega-Lite charts (Altair, served by Streamlit itself: no CDN) beyond what st.bar_chart can draw."""

from __future__ import annotations

import altair as alt
import pandas as pd

from covertype.ui import quality

#: What ``alt.layer(...).properties(...)`` returns, as altair types it.
Layered = alt.LayerChart | alt.FacetChart

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
    chart: alt.Chart = (
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
    return chart


def area_chart(slices: pd.DataFrame) -> Layered:
    """Accuracy per wilderness area, one bar per version side by side, each with its 95 % interval;
    ``slices`` is :func:`covertype.registry.queries.slice_accuracy` (every version on the same rows)."""
    x = alt.X(
        "area:N",
        sort=None,  # the UCI order the frame keeps
        title="wilderness area (rows of the latest holdout)",
        axis=alt.Axis(labelAngle=0, labelLimit=220),
    )
    y = alt.Y("accuracy:Q", title="accuracy", axis=alt.Axis(format=".0%"))
    tooltip = ["version", "area", alt.Tooltip("text:N", title="accuracy (95% interval)")]
    bars = (
        alt.Chart(slices)
        .mark_bar()
        .encode(
            x=x,
            xOffset="version:N",
            y=y,
            color=alt.Color("version:N", legend=alt.Legend(orient="bottom")),
            tooltip=tooltip,
        )
    )
    intervals = (
        alt.Chart(slices)
        .mark_rule(color="#212121", strokeWidth=1.5)
        .encode(x=x, xOffset="version:N", y="low:Q", y2="high:Q", tooltip=tooltip)
    )
    return alt.layer(bars, intervals).properties(height=300)


def batch_accuracy_chart(accuracy: pd.DataFrame, stints: pd.DataFrame) -> Layered:
    """The champion's accuracy on each batch (solid, points, a vertical bar for its 95 % interval)
    against its holdout accuracy (dashed), one colour per version, with a labelled vertical rule where
    another version took over.

    ``accuracy`` and ``stints`` are :func:`covertype.ui.quality.batch_accuracy` and
    :func:`~covertype.ui.quality.version_stints`.
    """
    x_axis = alt.Axis(format="d", tickMinStep=1)
    x = alt.X("batch:Q", title="batch", axis=x_axis)
    y = alt.Y(
        "accuracy:Q",
        title="accuracy on the batch",
        scale=alt.Scale(zero=False),
        axis=alt.Axis(format=".0%"),
    )
    color = alt.Color(
        "version:N", scale=alt.Scale(scheme="tableau10"), legend=alt.Legend(orient="bottom", title="champion")
    )
    tooltip = [
        "batch",
        "version",
        alt.Tooltip("text:N", title="accuracy (95% interval)"),
        "rows",
        alt.Tooltip("macro_f1:Q", title="macro-F1", format=".2f"),
        alt.Tooltip("drift_score:Q", title="drift score", format=".3f"),
    ]
    per_batch = (
        alt.Chart(accuracy)
        .mark_line(point=alt.OverlayMarkDef(size=70))
        .encode(x=x, y=y, color=color, detail="stint:N", tooltip=tooltip)
    )
    intervals = (
        alt.Chart(accuracy)
        .mark_rule(strokeWidth=2, opacity=0.6)
        .encode(x=x, y="low:Q", y2="high:Q", color=color, tooltip=tooltip)
    )
    holdout = (
        alt.Chart(stints.dropna(subset=["holdout_accuracy"]))
        .mark_rule(strokeDash=[6, 4], strokeWidth=2)
        .encode(
            x="start:Q",
            x2="end:Q",
            y="holdout_accuracy:Q",
            color=color,
            tooltip=["version", alt.Tooltip("holdout:N", title="accuracy on its own holdout")],
        )
    )
    changes = stints[stints["change"]].assign(label=lambda frame: frame["version"] + " takes over")
    rules = alt.Chart(changes).mark_rule(color="#616161", strokeWidth=1.5).encode(x="start:Q")
    labels = (
        alt.Chart(changes)
        .mark_text(align="left", baseline="top", dx=4, dy=4, color="#424242")
        .encode(x="start:Q", y=alt.value(0), text="label:N")
    )
    return alt.layer(per_batch, intervals, holdout, rules, labels).properties(height=300)


def drift_map(cells: pd.DataFrame, *, threshold: float, features: list[str]) -> Layered:
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
                    orient="bottom",
                    title="PSI against the version's training data",
                    titleLimit=400,
                    labelLimit=0,  # the whole label: what a verdict means is in it
                    columns=1,
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
