"""Pipeline: the data API's schedule per group, every ingestion poll, and the rows that were rejected."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import streamlit as st

from covertype.ui import api_client, charts, resources, store_queries

settings = resources.settings()
st.title("Pipeline")


def _when(moment: object, batch_number: object) -> str:
    if pd.isna(batch_number):
        return "batch 1 on the first poll"
    if not isinstance(moment, str):
        return "never (last batch)"
    seconds = (datetime.fromisoformat(moment) - datetime.now(UTC)).total_seconds()
    return f"in {seconds:,.0f} s" if seconds > 0 else "on the next poll"


st.subheader("Data API: batches per group")
try:
    schedules = pd.DataFrame(api_client.group_schedules(settings))
except api_client.ServiceError as exc:
    st.error(str(exc), icon=":material/error:")
else:
    schedules["state"] = schedules.apply(
        lambda row: (
            "not started"
            if pd.isna(row["batch_number"])
            else "all batches delivered"
            if row["finished"]
            else f"batch {int(row['batch_number'])} of {row['batches']}"
        ),
        axis=1,
    )
    schedules["next batch opens"] = [
        _when(moment, batch)
        for moment, batch in zip(schedules["next_batch_at"], schedules["batch_number"], strict=True)
    ]
    st.caption(f"{settings.data_api_url} — this deployment ingests group {settings.group}.")
    st.dataframe(
        schedules[["group_number", "state", "batch_started_at", "next_batch_at", "next batch opens"]],
        hide_index=True,
        column_config={
            "group_number": st.column_config.NumberColumn("group"),
            "batch_started_at": st.column_config.DatetimeColumn(
                "batch began (UTC)", format="YYYY-MM-DD HH:mm:ss"
            ),
            "next_batch_at": st.column_config.DatetimeColumn(
                "next batch at (UTC)", format="YYYY-MM-DD HH:mm:ss"
            ),
        },
    )

engine = resources.store()
runs = store_queries.recent_ingestion_runs(engine)
st.subheader(f"Ingestion runs ({len(runs):,} latest)")
if runs.empty:
    st.info("No ingestion run yet: `covertype ingest` or the covertype_ingest DAG stores the first batch.")
else:
    totals = runs[["rows_received", "rows_inserted", "duplicates", "rejected"]].sum()
    metrics = st.columns(5)
    metrics[0].metric("Rows stored", f"{store_queries.stored_row_count(engine):,}")
    for column, (name, value) in zip(metrics[1:], totals.items(), strict=True):
        column.metric(name.replace("_", " ").capitalize(), f"{int(value):,}")
    st.altair_chart(charts.ingestion_chart(runs))
    st.dataframe(
        runs,
        hide_index=True,
        column_config={
            "started_at": st.column_config.DatetimeColumn("started (UTC)", format="YYYY-MM-DD HH:mm:ss"),
            "finished_at": st.column_config.DatetimeColumn("finished (UTC)", format="YYYY-MM-DD HH:mm:ss"),
            "group_number": "group",
            "batch_number": "batch",
            "rows_received": "received",
            "rows_inserted": "stored",
        },
    )

rejected = store_queries.recent_rejected_rows(engine)
st.subheader(f"Rejected rows ({len(rejected):,} latest)")
if rejected.empty:
    st.success("No row was rejected: every row received passed validation.", icon=":material/verified:")
else:
    st.dataframe(
        rejected,
        hide_index=True,
        column_config={
            "rejected_at": st.column_config.DatetimeColumn("rejected (UTC)", format="YYYY-MM-DD HH:mm:ss"),
            "group_number": "group",
            "batch_number": "batch",
            "row_number": "row",
            "reason": st.column_config.TextColumn("reason", width="large"),
            "payload": st.column_config.TextColumn("row as received"),
        },
    )
