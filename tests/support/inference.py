"""Helpers of the inference API tests: champions made by the training code, in a temp MLflow store."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from covertype.processes import Service, unused_port
from covertype.registry.core import Registry
from covertype.schema import EXAMPLE_RECORD
from covertype.settings import Settings
from covertype.training.pipeline import run_training
from support.training import fill_store

#: A valid record (the first row of the UCI file).
GOOD = dict(EXAMPLE_RECORD)


def registry_settings(tmp_path: Path, **overrides: object) -> Settings:
    """Settings on a SQLite MLflow store and a SQLite store, both under ``tmp_path``."""
    values: dict[str, object] = {
        "data_dir": tmp_path,
        "mlflow_tracking_uri": f"sqlite:///{tmp_path / 'mlflow.db'}",
        "model_poll_interval": 0.5,
        "max_batch_records": 2_000,
        **overrides,
    }
    return Settings(**values)


def train_version(settings: Settings, frame: pd.DataFrame, *, candidates: str) -> dict[str, Any]:
    """Store ``frame`` (rows already stored are kept once) and run the training pipeline on it.

    What ``covertype train --candidates ... --force`` does, with half a second of search for the training.
    The first version becomes the champion; later ones follow the promotion rule of ``settings``.
    """
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    fill_store(settings.database, frame)
    return run_training(
        settings, Registry.from_settings(settings), candidates=candidates, time_budget=0.5, force=True
    )


@contextmanager
def inference_server(settings: Settings) -> Iterator[str]:
    """``covertype inference-api`` on a free port with ``settings``, ready (a model loaded); its URL."""
    port = unused_port()
    url = f"http://127.0.0.1:{port}"
    service = Service(
        name="inference-api",
        command=[str(Path(sys.executable).parent / "covertype"), "inference-api", "--port", str(port)],
        health_url=f"{url}/ready",
        port=port,
        settings=settings,
        log_path=settings.data_dir / f"inference-api-{port}.log",
    )
    with service:
        yield url
