"""Running the data API under uvicorn, with one or several worker processes."""

from __future__ import annotations

import os

import orjson
import uvicorn
from fastapi import FastAPI

from covertype.data_api.app import create_app
from covertype.settings import Settings, get_settings

#: Carries the exact settings to worker processes, which rebuild the app from an import string.
SETTINGS_ENV = "COVERTYPE_DATA_API_SETTINGS_JSON"


def run(settings: Settings, *, host: str = "127.0.0.1", port: int = 8000, workers: int = 1) -> None:
    """Serve the data API until interrupted; the workers share state through ``settings.state_file``."""
    if workers == 1:
        uvicorn.run(create_app(settings), host=host, port=port)
        return
    os.environ[SETTINGS_ENV] = settings.model_dump_json()
    uvicorn.run(f"{__name__}:app_from_environment", factory=True, host=host, port=port, workers=workers)


def app_from_environment() -> FastAPI:
    """The app of one worker process: settings from :data:`SETTINGS_ENV`, else the environment."""
    serialized = os.environ.get(SETTINGS_ENV)
    settings = Settings(**orjson.loads(serialized)) if serialized else get_settings()
    return create_app(settings)
