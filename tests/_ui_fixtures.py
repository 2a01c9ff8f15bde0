"""A real stack for the UI tests: data API, SQLite store with ingested batches, MLflow SQLite store with
two versions trained by the training pipeline, inference API and the Streamlit UI, all on free ports."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
from conftest import free_port

from covertype.ingestion import ingest_once
from covertype.processes import Service
from covertype.settings import Settings
from covertype.training.pipeline import run_training
from covertype.ui import streamlit_command

COVERTYPE = str(Path(sys.executable).parent / "covertype")


@dataclass(frozen=True)
class UiStack:
    settings: Settings
    env: dict[str, str]
    ui_url: str
    inference_url: str
    data_api_url: str


class _CorruptingTransport(httpx.BaseTransport):
    """Passes polls to the real data API and spoils two rows of the answer, like an unreliable source:
    the ingestion then has rows to reject (and the Pipeline page something to show)."""

    def __init__(self) -> None:
        self._inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self._inner.handle_request(request)
        response.read()
        body = orjson.loads(response.content)
        body["data"][0][0] = -40  # Elevation below its range
        body["data"][1][11] = "C9999"  # not an ELU code
        return httpx.Response(
            response.status_code, content=orjson.dumps(body), headers={"content-type": "application/json"}
        )


def stack_env(tmp_path: Path, sample_csv: Path, *, data_api_port: int, inference_port: int) -> dict[str, str]:
    """The environment every process of the stack shares (nothing inherited from the caller's config)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COVERTYPE_", "MLFLOW_"))}
    env.update(
        {
            "COVERTYPE_DATA_DIR": str(tmp_path),
            "COVERTYPE_DATA_SOURCE": str(sample_csv),
            "COVERTYPE_GROUPS": "3",
            "COVERTYPE_BATCHES": "5",
            "COVERTYPE_BATCH_INTERVAL": "0",
            "COVERTYPE_SAMPLE_FRACTION": "0.2",
            "COVERTYPE_DATA_API_URL": f"http://127.0.0.1:{data_api_port}",
            "COVERTYPE_INFERENCE_API_URL": f"http://127.0.0.1:{inference_port}",
            "COVERTYPE_MODEL_POLL_INTERVAL": "1",
            "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
            "COVERTYPE_MLFLOW_UI_URL": "http://127.0.0.1:5000",
        }
    )
    return env


def _service(
    name: str, command: list[str], health: str, port: int, env: dict[str, str], logs: Path
) -> Service:
    return Service(name, command, health, port, env=env, log_path=logs / f"{name}.log")


def fill_registry_and_store(settings: Settings) -> None:
    """Three polls (one with two spoiled rows) and two trainings between them: two registered versions."""
    with httpx.Client(base_url=settings.data_api_url, transport=_CorruptingTransport()) as spoiled:
        ingest_once(settings, client=spoiled)
    ingest_once(settings)
    run_training(settings, candidates="logreg", time_budget=2, force=True)
    ingest_once(settings)
    run_training(settings, candidates="logreg", time_budget=2, force=True)


@contextmanager
def ui_stack(tmp_path: Path, sample_csv: Path) -> Iterator[UiStack]:
    """Start everything, fill store and registry, yield the URLs; stop every process on exit."""
    data_port, inference_port, ui_port = free_port(), free_port(), free_port()
    env = stack_env(tmp_path, sample_csv, data_api_port=data_port, inference_port=inference_port)
    logs = tmp_path / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    settings = Settings(
        _env_file=None,
        **{  # type: ignore[call-arg]
            "data_dir": tmp_path,
            "data_source": str(sample_csv),
            "groups": 3,
            "batches": 5,
            "batch_interval": 0,
            "sample_fraction": 0.2,
            "data_api_url": env["COVERTYPE_DATA_API_URL"],
            "inference_api_url": env["COVERTYPE_INFERENCE_API_URL"],
            "mlflow_tracking_uri": env["MLFLOW_TRACKING_URI"],
            "http_retries": 2,
            "http_backoff": 0.1,
        },
    )
    with ExitStack() as stack:
        services = [
            _service(
                "data-api",
                [COVERTYPE, "data-api", "--port", str(data_port)],
                f"http://127.0.0.1:{data_port}/health",
                data_port,
                env,
                logs,
            ),
        ]
        services[0].start()
        stack.callback(services[0].stop)
        services[0].wait_healthy(90)
        fill_registry_and_store(settings)
        later = [
            _service(
                "inference-api",
                [COVERTYPE, "inference-api", "--port", str(inference_port)],
                f"http://127.0.0.1:{inference_port}/ready",
                inference_port,
                env,
                logs,
            ),
            _service(
                "ui",
                streamlit_command(host="127.0.0.1", port=ui_port),
                f"http://127.0.0.1:{ui_port}/_stcore/health",
                ui_port,
                env,
                logs,
            ),
        ]
        for service in later:
            service.start()
            stack.callback(service.stop)
        for service in later:
            service.wait_healthy(120)
        yield UiStack(
            settings,
            env,
            f"http://127.0.0.1:{ui_port}",
            env["COVERTYPE_INFERENCE_API_URL"],
            env["COVERTYPE_DATA_API_URL"],
        )
