"""The web UI (Streamlit): Predict, Pipeline and Models pages over the project's services."""

from __future__ import annotations

import sys
from pathlib import Path

from covertype.ui.api_client import ServiceError, reload_model

__all__ = ["APP_PATH", "ServiceError", "reload_model", "streamlit_command"]

#: The Streamlit entry script (``streamlit run`` takes a file path, not a module).
APP_PATH = Path(__file__).with_name("app.py")


def streamlit_command(*, host: str, port: int) -> list[str]:
    """The command line that serves the UI headless on ``host:port`` with this interpreter."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP_PATH),
        "--server.headless",
        "true",
        "--server.port",
        str(port),
        "--server.address",
        host,
        "--browser.gatherUsageStats",
        "false",
        "--client.toolbarMode",
        "viewer",
    ]
