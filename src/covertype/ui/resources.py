"""What every page shares: the settings, the store's engine and the registry, created once per UI process."""

from __future__ import annotations

from typing import TYPE_CHECKING

import streamlit as st

from covertype.settings import Settings, get_settings
from covertype.store.engine import Engine, store_engine

if TYPE_CHECKING:
    from covertype.registry.core import Registry


def settings() -> Settings:
    return get_settings()


@st.cache_resource(show_spinner=False)
def store() -> Engine:
    """One pooled engine for every session (the SQLite default also gets its tables created)."""
    return store_engine(get_settings())


@st.cache_resource(show_spinner=False)
def registry() -> Registry:
    """One registry client for every session (imported here: the Predict page needs no MLflow)."""
    from covertype.registry.core import Registry

    return Registry.from_settings(get_settings())
