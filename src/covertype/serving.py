"""One runner for both APIs: uvicorn with one or several worker processes, built by an app factory.

With one worker the app is built and served in this process. With several, uvicorn starts each worker from
an import string: the worker finds the factory named in :data:`FACTORY_ENV` and calls it on
:func:`~covertype.settings.get_settings`, which reads the settings this process wrote into its environment
with :meth:`~covertype.settings.Settings.child_environ` (the one way settings reach a child process).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from typing import Any

import uvicorn
from fastapi import FastAPI

from covertype.settings import Settings, get_settings

AppFactory = Callable[[Settings], FastAPI]

#: Names the app factory (``module:function``) for worker processes; not a setting.
FACTORY_ENV = "COVERTYPE_SERVE_FACTORY"

#: What building an app raises on bad configuration: a missing dataset (``DatasetError`` is a
#: ``ValueError``), an unreadable file, a broken schedule (``ScheduleUnavailable`` is an ``OSError``).
_STARTUP_ERRORS = (ValueError, OSError)


def serve(
    name: str,
    factory: AppFactory,
    settings: Settings,
    *,
    host: str = "127.0.0.1",
    port: int,
    workers: int = 1,
    build_first: bool = False,
    **uvicorn_options: Any,
) -> None:
    """Serve ``factory(settings)`` until interrupted.

    ``build_first`` builds the app in this process even for several workers, so that bad configuration
    stops the command with one clear message (instead of every worker failing) and work such as a
    dataset download happens once before the workers start.
    """
    if workers == 1 or build_first:
        try:
            app = factory(settings)
        except _STARTUP_ERRORS as exc:
            raise SystemExit(f"{name} cannot start: {exc}") from exc
        if workers == 1:
            uvicorn.run(app, host=host, port=port, **uvicorn_options)
            return
        del app  # each worker builds its own
    _export(settings, factory)
    uvicorn.run(
        f"{__name__}:worker_app", factory=True, host=host, port=port, workers=workers, **uvicorn_options
    )


def worker_app() -> FastAPI:
    """The app of one worker process: the factory named in :data:`FACTORY_ENV`, on the settings read back."""
    module, _, function = os.environ[FACTORY_ENV].partition(":")
    factory: AppFactory = getattr(importlib.import_module(module), function)
    return factory(get_settings())


def _export(settings: Settings, factory: AppFactory) -> None:
    """Make this process's environment, which uvicorn's worker processes inherit, carry ``settings``."""
    named = {FACTORY_ENV: f"{factory.__module__}:{factory.__qualname__}"}
    environ = settings.child_environ(os.environ) | named
    for stale in set(os.environ) - set(environ):
        del os.environ[stale]
    os.environ.update(environ)
