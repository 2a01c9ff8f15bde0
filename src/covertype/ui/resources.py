"""What every page shares: the settings and the store's engine, created once per UI process."""

from __future__ import annotations

import streamlit as st

from covertype.settings import Settings, get_settings
from covertype.store.engine import Engine, store_engine


def settings() -> Settings:
    return get_settings()


@st.cache_resource(show_spinner=False)
def store() -> Engine:
    """One pooled engine for every session (the SQLite default also gets its tables created)."""
    return store_engine(get_settings())
