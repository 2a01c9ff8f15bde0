"""Vega-Lite charts (Altair, served by Streamlit itself: no CDN) beyond what st.bar_chart can draw."""

from __future__ import annotations

import altair as alt
import pandas as pd

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
