"""Predict: one location through a form, or many through a CSV file."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from covertype.schema import (
    COVER_TYPES,
    FEATURE_COLUMNS,
    NUMERIC_COLUMNS,
    NUMERIC_RANGES,
    SOIL_TYPES,
    WILDERNESS_AREAS,
)
from covertype.ui import api_client, batch_csv, examples, resources
from covertype.ui.labels import FEATURE_LABELS, cover_type_label, soil_label, wilderness_label

settings = resources.settings()


def _key(column: str) -> str:
    return f"feature.{column}"


def _fill_form(row: dict[str, Any], source: str) -> None:
    for column in FEATURE_COLUMNS:
        st.session_state[_key(column)] = row[column]
    st.session_state["example"] = (
        f"{source}; its recorded cover type is {cover_type_label(int(row['Cover_Type']))}"
    )
    st.session_state.pop("prediction", None)


def _load_example() -> None:
    _fill_form(*examples.example_row(resources.store()))


if _key("Elevation") not in st.session_state:
    _fill_form(examples.BUILT_IN_EXAMPLE, examples.BUILT_IN_SOURCE)

st.title("Predict the forest cover type")
try:
    model = api_client.served_model(settings)
    st.caption(
        f"Answers come from **{model['name']} v{model['version']}** (alias `{model['alias']}`) "
        f"served by the inference API at {settings.inference_api_url}."
    )
except api_client.ServiceError as exc:
    st.warning(f"No model to ask right now: {exc}")

st.button(
    "Example row",
    icon=":material/casino:",
    on_click=_load_example,
    help="fill the form with a random row of the store",
)
if "example" in st.session_state:
    st.caption(st.session_state["example"])

with st.form("predict"):
    columns = st.columns(3)
    for index, column in enumerate(NUMERIC_COLUMNS):
        low, high = NUMERIC_RANGES[column]
        columns[index % 3].number_input(
            FEATURE_LABELS[column],
            min_value=low,
            max_value=high,
            step=1,
            key=_key(column),
            help=f"{column}, {low}..{high}",
        )
    left, right = st.columns([1, 2])
    left.selectbox(
        FEATURE_LABELS["Wilderness_Area"],
        WILDERNESS_AREAS,
        format_func=wilderness_label,
        key=_key("Wilderness_Area"),
    )
    right.selectbox(FEATURE_LABELS["Soil_Type"], SOIL_TYPES, format_func=soil_label, key=_key("Soil_Type"))
    submitted = st.form_submit_button("Predict", type="primary", icon=":material/send:")

if submitted:
    record = {column: st.session_state[_key(column)] for column in FEATURE_COLUMNS}
    try:
        st.session_state["prediction"] = api_client.predict(settings, record)
    except api_client.ServiceError as exc:
        st.session_state.pop("prediction", None)
        st.error(str(exc), icon=":material/error:")

prediction = st.session_state.get("prediction")
if prediction:
    name, version = prediction["cover_type_name"], prediction["model_version"]
    probability = prediction["probabilities"][name]
    result, chart = st.columns([1, 2])
    result.success(f"**{name}** (cover type {prediction['cover_type']})", icon=":material/park:")
    result.metric("Probability", f"{probability:.1%}", help=f"model version {version}")
    result.caption(f"model version {version}")
    probabilities = pd.DataFrame(
        {
            "cover type": list(COVER_TYPES.values()),
            "probability": [prediction["probabilities"].get(label, 0.0) for label in COVER_TYPES.values()],
        }
    )
    chart.bar_chart(
        probabilities, x="cover type", y="probability", horizontal=True, sort="-probability", height=260
    )

st.divider()
st.subheader("Many locations: a CSV file")
st.caption(
    "A header with the 12 feature columns (" + ", ".join(FEATURE_COLUMNS) + "), optionally "
    "Cover_Type too. The answer adds the predicted class, its probability and the model version."
)
upload = st.file_uploader("CSV file of records", type=["csv"])
if upload is not None:
    try:
        frame = batch_csv.read_records(upload.getvalue())
        with st.spinner(f"Classifying {len(frame):,} rows…"):
            answers = api_client.predict_batch(settings, batch_csv.records(frame))
    except (batch_csv.BadUpload, api_client.ServiceError) as exc:
        st.error(f"{upload.name}: {exc}".replace("\n", "  \n"), icon=":material/error:")  # one problem a line
    else:
        result_frame = batch_csv.with_predictions(frame, answers)
        summary = f"{len(result_frame):,} rows classified"
        if "Cover_Type" in result_frame:
            agreement = (result_frame["Cover_Type"] == result_frame["predicted_cover_type"]).mean()
            summary += f"; {agreement:.1%} agree with the file's Cover_Type"
        st.success(summary, icon=":material/task_alt:")
        st.download_button(
            "Download the predictions (CSV)",
            batch_csv.to_csv(result_frame),
            file_name=f"{upload.name.removesuffix('.csv')}-predictions.csv",
            mime="text/csv",
            icon=":material/download:",
            type="primary",
        )
        st.dataframe(result_frame.head(200), hide_index=True)
