"""Models: the registered versions and their scores, the promotion decisions, and the Roll back lever
(for a signed-in operator only, see :mod:`covertype.ui.operator`)."""

from __future__ import annotations

import streamlit as st

from covertype.registry import queries
from covertype.registry.aliases import UnknownVersion, promote_version
from covertype.ui import api_client, charts, operator, resources, tables

settings = resources.settings()
st.title("Models")

versions = queries.registered_versions(settings)
if versions.empty:
    st.info(
        f"No version of model `{settings.model_name}` is registered yet: `covertype train` or the "
        "covertype_train DAG registers the first one."
    )
    st.stop()

champion = versions[versions["champion"]]
served = None
try:
    served = api_client.served_model(settings)
except api_client.ServiceError as exc:
    st.warning(f"Cannot tell what is served: {exc}")
cards = st.columns(4)
cards[0].metric("Registered versions", len(versions))
cards[1].metric(
    f"Champion (alias `{settings.model_alias}`)",
    f"v{champion['version'].iloc[0]}" if not champion.empty else "none",
)
if not champion.empty and champion["holdout_accuracy"].notna().iloc[0]:
    cards[2].metric("Champion holdout accuracy", f"{champion['holdout_accuracy'].iloc[0]:.2%}")
cards[3].metric("Served by the inference API", f"v{served['version']}" if served else "unknown")

if "promotion" in st.session_state:
    st.success(st.session_state.pop("promotion"), icon=":material/swap_vert:")

st.subheader("Registered versions")
st.dataframe(
    tables.readable(versions, keep=("mlflow",)),
    hide_index=True,
    column_order=[
        "version",
        "champion",
        "aliases",
        "candidate",
        "holdout_accuracy",
        "holdout_macro_f1",
        "mlflow",
        "created",
        "decision",
        "reason",
    ],
    column_config={
        "champion": st.column_config.CheckboxColumn("champion"),
        "holdout_accuracy": st.column_config.NumberColumn("holdout accuracy", format="%.4f"),
        "holdout_macro_f1": st.column_config.NumberColumn("holdout macro-F1", format="%.4f"),
        "decision": "promotion decision",
        "reason": st.column_config.TextColumn("why", width="large"),
        "created": "registered (UTC)",
        "mlflow": st.column_config.LinkColumn("MLflow run", display_text="open run"),
    },
)

history, slices = st.columns(2)
with history:
    st.subheader("Champion accuracy per training run")
    runs = queries.champion_history(versions)
    if runs.empty:
        st.caption("No training run has recorded a promotion decision yet.")
    else:
        st.altair_chart(charts.history_chart(runs))
with slices:
    st.subheader("Holdout accuracy per wilderness area")
    by_area = queries.slice_accuracy(versions)
    if by_area.empty:
        st.caption("The registered runs logged no per-wilderness accuracy.")
    else:
        st.bar_chart(by_area, x="area", y="accuracy", color="version", stack=False, height=300)

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
    others = [
        version for version in versions["version"] if champion.empty or version != champion["version"].iloc[0]
    ]
    with st.form("rollback"):
        chosen = st.selectbox("Version to serve", others, format_func=lambda version: f"v{version}")
        reason = st.text_input(
            "Why (recorded on the version)", placeholder="e.g. v3 misclassifies Cache stands"
        )
        if st.form_submit_button("Make this version champion", type="primary", icon=":material/history:"):
            try:
                result = promote_version(settings, str(chosen), reason=reason or None)
            except UnknownVersion as exc:
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
