"""The one runner of both APIs (``covertype.serving``): several uvicorn workers on the parent's settings.

Each API starts through its CLI command with ``--workers 2`` on a free port; the settings travel the one
way (``Settings.child_environ`` to the command, the runner's export to the workers, ``get_settings()`` there)
and every answer shows values that differ from the defaults.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import httpx
import pytest

from covertype.processes import Service, unused_port
from covertype.settings import Settings
from support.data_api import data_api_server, data_api_settings

pytestmark = pytest.mark.slow

WORKERS = 2


def test_data_api_workers_serve_the_parents_settings(tmp_path: Path, sample_csv: Path) -> None:
    settings = data_api_settings(tmp_path, sample_csv, groups=7, batches=3, batch_interval=12.5)

    with (
        data_api_server(settings, port=unused_port(), workers=WORKERS) as url,
        httpx.Client(base_url=url) as client,
    ):
        answers = [client.get("/health").json() for _ in range(20)]

    assert {(a["groups"], a["batches"], a["batch_interval"]) for a in answers} == {(7, 3, 12.5)}


def test_inference_api_workers_serve_the_parents_settings(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        mlflow_tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}",
        model_name="forest",
        model_alias="prod",
        api_token="s3cret token",
        model_poll_interval=0.5,
    )
    port = unused_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "inference-api.log"
    service = Service(
        "inference API",
        [
            str(Path(sys.executable).parent / "covertype"),
            "inference-api",
            "--port",
            str(port),
            "--workers",
            "2",
        ],
        f"{url}/health",
        port,
        settings=settings,
        log_path=log,
        start_timeout=180,
    )
    with service:
        _wait_for_workers(log)
        with httpx.Client(base_url=url, timeout=30) as client:
            ready = [client.get("/ready").json()["detail"] for _ in range(10)]
            unauthorized = [client.post("/model/reload").status_code for _ in range(10)]
            authorized = client.post("/model/reload", headers={"Authorization": "Bearer s3cret token"})

    assert all(detail.startswith("no model loaded from models:/forest@prod") for detail in ready), ready
    assert set(unauthorized) == {401}  # every worker knows the token
    assert authorized.status_code != 401


def _wait_for_workers(log: Path, timeout: float = 180) -> None:
    """Until every worker has started its app (the log says so once per worker)."""
    deadline = time.monotonic() + timeout
    while log.read_text(errors="replace").count("Application startup complete") < WORKERS:
        if time.monotonic() > deadline:
            pytest.fail(f"{WORKERS} workers did not start within {timeout:.0f} s:\n{log.read_text()}")
        time.sleep(0.2)
