"""Models: the registered versions and their scores, the promotion decisions, and the Roll back lever
(for a signed-in operator only, see :mod:`covertype.ui.operator`)."""

from __future__ import annotations

import streamlit as st

from covertype.registry import queries
from covertype.registry.aliases import RefusedVersion, promote_version
from covertype.store.quality import batch_quality_rows
from covertype.ui import api_client, charts, operator, quality, resources, tables

settings = resources.settings()
st.title("Models")

versions = queries.registered_versions(resources.registry(), mlflow_ui_url=settings.mlflow_ui_url)
if versions.empty:
    st.info(
        f"No version of model `{settings.model_name}` is registered yet: `covertype train` or the "
        "covertype_train DAG registers the first one."
    )
    st.stop()

champion = versions[versions["champion"]]
champion_number = None if champion.empty else str(champion["version"].iloc[0])
latest = queries.latest_holdout(versions)
served = None
try:
    served = api_client.served_model(settings)
except api_client.ServiceError as exc:
    st.warning(f"Cannot tell what is served: {exc}")
cards = st.columns([1, 1, 2, 1])  # an accuracy with its interval needs the room
cards[0].metric("Registered versions", len(versions))
cards[1].metric(
    f"Champion (alias `{settings.model_alias}`)", f"v{champion_number}" if champion_number else "none"
)
if champion_number and latest and latest.text(champion_number):
    cards[2].metric(
        f"Champion on the latest holdout ({latest.rows:,} rows)",
        latest.text(champion_number, with_rows=False),
    )
elif champion_number and champion["holdout"].iloc[0]:
    cards[2].metric("Champion on its own holdout", champion["holdout"].iloc[0])
cards[3].metric("Served by the inference API", f"v{served['version']}" if served else "unknown")

if "promotion" in st.session_state:
    st.success(st.session_state.pop("promotion"), icon=":material/swap_vert:")

st.subheader("Registered versions")
latest_column = "latest holdout"
if latest:
    latest_column = f"latest holdout: v{latest.version}'s {latest.rows:,} rows"
shown = tables.readable(queries.versions_table(versions, latest), keep=("mlflow",))
st.dataframe(
    shown,
    hide_index=True,
    column_order=[
        "version",
        "champion",
        "aliases",
        "candidate",
        "validation",
        "holdout",
        "latest",
        "mlflow",
        "created",
    ],
    column_config={
        "champion": st.column_config.CheckboxColumn("champion"),
        "validation": st.column_config.TextColumn(
            "validation accuracy",
            help="What chose the candidate: the best trial of its search on a validation share of the "
            "training rows. It ranks the candidates of one training and is optimistic: whole percent only.",
        ),
        "holdout": st.column_config.TextColumn(
            "own holdout (95% interval)",
            help="Each version's accuracy on its own holdout: other rows for each version, so not "
            "comparable across versions.",
        ),
        "latest": st.column_config.TextColumn(
            latest_column,
            help="Every version scored on the same rows, the holdout of the newest training (its 10 newest "
            "versions and the champion): the column to compare versions by.",
        ),
        "created": "registered (UTC)",
        "mlflow": st.column_config.LinkColumn("MLflow run", display_text="open run"),
    },
)
st.dataframe(
    shown,
    hide_index=True,
    column_order=["version", "decision", "gain_verdict", "reason"],
    column_config={
        "decision": "promotion decision",
        "gain_verdict": st.column_config.TextColumn(
            "gain beyond noise?",
            help="Exact McNemar test of the new version against the champion on the holdout rows both "
            "scored; the counts are the rows only the new version / only the champion got right.",
        ),
        "reason": st.column_config.TextColumn("why", width="large"),
    },
)

st.subheader("The champion on each batch, before training on it")
evaluations = batch_quality_rows(resources.store(), group_number=settings.group)
if not evaluations:
    st.caption(
        "No batch evaluated yet: the champion scores each batch as it arrives, before any training sees it."
    )
else:
    accuracy = quality.batch_accuracy(evaluations)
    st.caption(
        f"Group {settings.group}: each batch's rows scored by the champion of the moment before any training "
        "saw them (test-then-train), so versions are compared on fresh data of the same kind; the vertical "
        "bars are 95% intervals. Dashed: a version's accuracy on its own holdout (other rows)."
    )
    stints = quality.version_stints(accuracy, quality.holdout_by_version(versions))
    st.altair_chart(charts.batch_accuracy_chart(accuracy, stints))
    st.dataframe(quality.batch_table(accuracy), hide_index=True)

st.subheader("Accuracy per wilderness area on the latest holdout")
if latest is None or not latest.area_rows:
    st.caption("No training has scored the versions on a shared holdout yet.")
else:
    st.caption(
        f"Every version scored on v{latest.version}'s holdout rows ({latest.rows:,} in all); bars show the "
        "95% intervals: overlapping bars are too close to tell apart."
    )
    st.altair_chart(charts.area_chart(queries.slice_accuracy(latest)))

st.subheader("Roll back")
signed_in = operator.accepts(settings, st.session_state.get("operator_token"))
if not operator.writes_enabled(settings):
    st.info(operator.READ_ONLY, icon=":material/lock:")
elif not signed_in:
    st.caption("Moving the champion changes what production serves: sign in as operator first.")
    with st.form("operator"):
        token = st.text_input("Operator token (COVERTYPE_API_TOKEN)", type="password")
        if st.form_submit_button("Sign in", icon=":material/login:"):
            if operator.accepts(settings, token):
                st.session_state["operator_token"] = token
                st.rerun()
            st.error("Wrong operator token: roll back stays off.", icon=":material/lock:")
else:
    others = [version for version in versions["version"] if version != champion_number]
    with st.form("rollback"):
        chosen = st.selectbox("Version to serve", others, format_func=lambda version: f"v{version}")
        reason = st.text_input(
            "Why (recorded on the version)", placeholder="e.g. v3 misclassifies Cache stands"
        )
        if st.form_submit_button("Make this version champion", type="primary", icon=":material/history:"):
            try:
                result = promote_version(resources.registry(), str(chosen), reason=reason or None)
            except RefusedVersion as exc:
                st.error(str(exc), icon=":material/error:")
            else:
                message = (
                    f"v{result['version']} is now champion ({result['decision']}, was v{result['previous']})."
                )
                try:  # the inference API checks the alias at once instead of at its next poll
                    reloaded = api_client.reload_model(settings, st.session_state["operator_token"])
                    message += f" The inference API serves v{reloaded['model']['version']}."
                except api_client.ServiceError as exc:
                    message += (
                        f" The inference API follows within {settings.model_poll_interval:g} s ({exc})."
                    )
                st.session_state["promotion"] = message
                st.rerun()
    if st.button("Sign out", icon=":material/logout:"):
        st.session_state.pop("operator_token", None)
        st.rerun()
st.caption(
    "The inference API polls the alias and switches by itself; `covertype promote --version N` "
    "does the same from a shell."
)
