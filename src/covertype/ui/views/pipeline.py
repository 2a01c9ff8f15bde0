"""Pipeline: the data API's schedule per group, Airflow's latest DAG runs, every ingestion poll (failed and
skipped ones too), the champion's accuracy and the drift of every feature on each batch before training on
it, and the rows that were rejected."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import streamlit as st

from covertype.registry import queries
from covertype.schema import FEATURE_COLUMNS, TARGET_COLUMN
from covertype.store import run_log
from covertype.store.quality import DRIFT_MIN_ROWS, NO_VERDICT_SHORT, batch_quality_rows
from covertype.store.reads import count_stored_rows
from covertype.ui import api_client, charts, quality, resources, tables

settings = resources.settings()
st.title("Pipeline")

DAG_IDS = ("covertype_ingest", "covertype_train")


def _when(moment: object, batch_number: float | None) -> str:
    if batch_number is None or pd.isna(batch_number):
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
    for column in ("batch_started_at", "next_batch_at"):
        schedules[column] = pd.to_datetime(schedules[column], utc=True)
    st.caption(f"{settings.data_api_url} — this deployment ingests group {settings.group}.")
    st.dataframe(
        tables.readable(
            schedules[["group_number", "state", "batch_started_at", "next_batch_at", "next batch opens"]]
        ),
        hide_index=True,
        column_config={
            "group_number": st.column_config.NumberColumn("group"),
            "batch_started_at": "batch began (UTC)",
            "next_batch_at": "next batch at (UTC)",
        },
    )

st.subheader("Airflow: latest DAG runs")
try:
    dag_runs = pd.DataFrame(api_client.dag_runs(settings, DAG_IDS, limit=10))
except api_client.ServiceError as exc:
    st.warning(f"Airflow's DAG runs cannot be shown: {exc}", icon=":material/cloud_off:")
else:
    states = st.columns(len(DAG_IDS))
    for card, dag_id in zip(states, DAG_IDS, strict=True):
        runs_of_dag = dag_runs[dag_runs["dag_id"] == dag_id] if not dag_runs.empty else dag_runs
        card.metric(
            f"{dag_id}: latest run", runs_of_dag["state"].iloc[0] if not runs_of_dag.empty else "no run yet"
        )
    if not dag_runs.empty:
        failed = dag_runs[dag_runs["state"] == "failed"]
        if not failed.empty:
            st.error(
                f"{len(failed)} of these runs failed; the newest: {failed['dag_id'].iloc[0]} "
                f"{failed['dag_run_id'].iloc[0]}. Its task logs are in the Airflow UI.",
                icon=":material/error:",
            )
        for column in ("run_after", "start_date", "end_date"):
            dag_runs[column] = pd.to_datetime(dag_runs[column], utc=True, format="ISO8601")
        st.dataframe(
            tables.readable(
                dag_runs[["dag_id", "state", "run_type", "run_after", "start_date", "end_date", "dag_run_id"]]
            ),
            hide_index=True,
            column_config={
                "dag_id": "DAG",
                "run_type": "type",
                "run_after": "run after (UTC)",
                "start_date": "started (UTC)",
                "end_date": "ended (UTC)",
                "dag_run_id": "run id",
            },
        )
    st.caption(f"From Airflow's REST API at {settings.airflow_api_url} (login {settings.airflow_username}).")

engine = resources.store()
runs = run_log.recent_ingestion_runs(engine)
st.subheader("Ingestion runs")
if runs.empty:
    st.info("No ingestion run yet: `covertype ingest` or the covertype_ingest DAG stores the first batch.")
else:
    st.caption(f"The latest {len(runs):,} polls, newest first; failed and skipped polls included.")
    outcomes = runs["outcome"].value_counts()
    counts = st.columns(4)
    counts[0].metric("Rows stored", f"{count_stored_rows(engine):,}")
    counts[1].metric("Polls that stored rows", f"{outcomes.get('stored', 0):,}")
    counts[2].metric("Skipped polls", f"{outcomes.filter(like='skipped').sum():,}")
    counts[3].metric("Failed polls", f"{outcomes.get('failed', 0):,}")
    failed = runs[runs["outcome"] == "failed"]
    if not failed.empty:
        newest = failed.iloc[0]
        st.error(
            f"{len(failed):,} of these polls failed; the newest, at {newest['started_at']:%Y-%m-%d %H:%M:%S}"
            f" UTC: {newest['error']}",
            icon=":material/error:",
        )
    st.altair_chart(charts.ingestion_chart(runs))
    st.dataframe(
        tables.readable(runs),
        hide_index=True,
        column_config={
            "started_at": "started (UTC)",
            "finished_at": "finished (UTC)",
            "group_number": "group",
            "batch_number": "batch",
            "rows_received": "received",
            "rows_inserted": "stored",
            "error": st.column_config.TextColumn("detail", width="large"),
        },
    )

st.subheader("The champion on each batch, before training on it")
evaluations = batch_quality_rows(engine, group_number=settings.group)
if not evaluations:
    st.info(
        "No batch evaluated yet: the champion scores each batch as it arrives (`covertype ingest` and the "
        "covertype_ingest DAG's evaluate_batch task), so the first figures come with the first batch "
        "stored after a champion exists.",
        icon=":material/monitoring:",
    )
else:
    accuracy = quality.batch_accuracy(evaluations)
    holdout = quality.holdout_by_version(queries.registered_versions(resources.registry()))
    latest = evaluations[-1]
    own = holdout.get(latest.model_version)
    cards = st.columns([1, 2, 2, 1])  # an accuracy with its interval needs the room
    cards[0].metric("Batches evaluated", f"{accuracy['batch'].nunique():,}")
    cards[1].metric(
        f"Latest batch ({latest.batch_number}, {latest.rows:,} rows): accuracy", accuracy["text"].iloc[-1]
    )
    cards[2].metric(
        f"Holdout accuracy of v{latest.model_version}" + (f" ({own.rows:,} rows)" if own else ""),
        own.text if own else "—",
    )
    cards[3].metric(
        "Latest drift score",
        f"{latest.drift_score:.3f}"
        if latest.drift_status.judged
        else NO_VERDICT_SHORT.get(latest.drift_status, "—"),
    )
    st.caption(
        f"Group {settings.group}. Solid: the serving champion's accuracy on each batch's rows, scored before "
        "any training saw them, with its 95% interval (hover for the rows); dashed: that version's accuracy "
        "on its own holdout rows. A batch well below "
        "the dashed line is data the model does worse on than it was promoted for; a vertical rule "
        "marks where another version became champion."
    )
    st.altair_chart(charts.batch_accuracy_chart(accuracy, quality.version_stints(accuracy, holdout)))
    threshold = settings.drift_threshold
    cells = quality.drift_cells(evaluations)
    st.markdown("**Drift per feature and batch** (population stability index)")
    if cells.empty:
        st.info(
            "No drift measured: the versions that scored these batches were trained before reference "
            "profiles were logged; the next trained version has one.",
            icon=":material/info:",
        )
    else:
        drifted = cells[cells["level"] == quality.DRIFTED]
        st.caption(
            f"Each cell compares a batch's values of one feature with the champion's training rows; the "
            f"last row, {TARGET_COLUMN}, the batch's mix of classes with theirs (prior shift). Red: the "
            f"difference is beyond chance at the two sample sizes (COVERTYPE_DRIFT_SIGNIFICANCE "
            f"{settings.drift_significance:g}) and its PSI above COVERTYPE_DRIFT_THRESHOLD ({threshold:g}), "
            f"the feature has drifted. A large PSI alone is not drift: a small batch or a model trained on "
            f"few rows makes one by chance. Grey: no verdict, fewer than {DRIFT_MIN_ROWS} rows in "
            f"the batch or the training data. {len(drifted):,} drifted cell(s) in "
            f"{drifted['batch'].nunique():,} batch(es)."
        )
        rows = [*FEATURE_COLUMNS, TARGET_COLUMN]
        st.altair_chart(charts.drift_map(cells, threshold=threshold, features=rows))

rejected = run_log.recent_rejected_rows(engine)
st.subheader("Rejected rows")
if rejected.empty:
    st.success("No row was rejected: every row received passed validation.", icon=":material/verified:")
else:
    st.caption(f"The latest {len(rejected):,} rows that failed validation, newest first.")
    st.dataframe(
        tables.readable(rejected),
        hide_index=True,
        column_config={
            "rejected_at": "rejected (UTC)",
            "group_number": "group",
            "batch_number": "batch",
            "row_number": "row",
            "reason": st.column_config.TextColumn("reason", width="large"),
            "payload": st.column_config.TextColumn("row as received"),
        },
    )
