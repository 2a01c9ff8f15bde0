"""Running the inference API under uvicorn, with one or several worker processes."""

from __future__ import annotations

import os

import orjson
import uvicorn
from fastapi import FastAPI

from covertype.inference.app import create_app
from covertype.settings import Settings, get_settings

#: Carries the exact settings to worker processes, which rebuild the app from an import string.
SETTINGS_ENV = "COVERTYPE_INFERENCE_API_SETTINGS_JSON"

#: uvloop and httptools: the fastest event loop and HTTP parser uvicorn offers (uvicorn[standard]).
_SERVER_OPTIONS = {"loop": "uvloop", "http": "httptools", "access_log": False}


def run(settings: Settings, *, host: str = "127.0.0.1", port: int = 8001, workers: int = 1) -> None:
    """Serve the inference API until interrupted; each worker loads and follows the model itself."""
    if workers == 1:
        uvicorn.run(create_app(settings), host=host, port=port, **_SERVER_OPTIONS)
        return
    os.environ[SETTINGS_ENV] = settings.model_dump_json()
    uvicorn.run(
        f"{__name__}:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        **_SERVER_OPTIONS,
    )


def app_from_environment() -> FastAPI:
    """The app of one worker process: settings from :data:`SETTINGS_ENV`, else the environment."""
    serialized = os.environ.get(SETTINGS_ENV)
    settings = Settings(**orjson.loads(serialized)) if serialized else get_settings()
    return create_app(settings)
