"""Running the data API under uvicorn, with one or several worker processes."""

from __future__ import annotations

import os
import sqlite3

import orjson
import uvicorn
from fastapi import FastAPI

from covertype.data_api.app import create_app
from covertype.settings import Settings, get_settings

#: Carries the exact settings to worker processes, which rebuild the app from an import string.
SETTINGS_ENV = "COVERTYPE_DATA_API_SETTINGS_JSON"


def run(settings: Settings, *, host: str = "127.0.0.1", port: int = 8000, workers: int = 1) -> None:
    """Serve the data API until interrupted; the workers share state through ``settings.state_file``.

    The app is built once here first, so a bad dataset or state file stops the command with one clear
    message (instead of every worker failing), and a scikit-learn download happens once before the
    workers start.
    """
    try:
        app = create_app(settings)
    except (ValueError, OSError, sqlite3.Error) as exc:  # DatasetError is a ValueError
        raise SystemExit(f"data API cannot start: {exc}") from exc
    if workers == 1:
        uvicorn.run(app, host=host, port=port)
        return
    del app  # each worker builds its own
    os.environ[SETTINGS_ENV] = settings.model_dump_json()
    uvicorn.run(f"{__name__}:app_from_environment", factory=True, host=host, port=port, workers=workers)


def app_from_environment() -> FastAPI:
    """The app of one worker process: settings from :data:`SETTINGS_ENV`, else the environment."""
    serialized = os.environ.get(SETTINGS_ENV)
    settings = Settings(**orjson.loads(serialized)) if serialized else get_settings()
    return create_app(settings)
