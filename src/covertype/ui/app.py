"""Streamlit entry of the web UI (``covertype ui``): three pages over the project's services."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

VIEWS = Path(__file__).with_name("views")
#: A file of the package: with a ``:material/...:`` page icon, browsers fetch it from fonts.gstatic.com.
FAVICON = Path(__file__).with_name("favicon.png")

st.set_page_config(page_title="covertype", page_icon=str(FAVICON), layout="wide")
page = st.navigation(
    [
        st.Page(VIEWS / "predict.py", title="Predict", icon=":material/forest:", default=True),
        st.Page(VIEWS / "pipeline.py", title="Pipeline", icon=":material/conveyor_belt:"),
        st.Page(VIEWS / "models.py", title="Models", icon=":material/model_training:"),
    ]
)
page.run()
