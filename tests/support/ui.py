"""A real stack for the UI tests: data API, SQLite store with ingested batches (a skipped and a failed poll
among them) and the champion's evaluation of the batches stored after it, MLflow SQLite store with two
versions trained by the training pipeline, inference API and the Streamlit UI, all on free ports; and a real
Airflow API server the Pipeline page reads DAG runs from."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson

from covertype.ingestion import ingest_once
from covertype.ingestion.pipeline import IngestionFailed
from covertype.monitoring.evaluation import evaluate_batch
from covertype.processes import Service, unused_port
from covertype.registry.core import Registry
from covertype.settings import Settings
from covertype.training.pipeline import run_training
from covertype.ui import streamlit_command
from support.airflow import airflow_env

COVERTYPE = str(Path(sys.executable).parent / "covertype")


#: The operator token of the stack (COVERTYPE_API_TOKEN of the UI and the inference API).
OPERATOR_TOKEN = "ui-test-operator-token"


@dataclass(frozen=True)
class UiStack:
    settings: Settings
    env: dict[str, str]
    ui_url: str
    inference_url: str
    data_api_url: str
    airflow_port: int


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


class _ReplayingTransport(httpx.BaseTransport):
    """Answers every poll with the first answer it got, like a poll repeated within a batch's window:
    every row is a duplicate, so the poll is skipped for want of new rows."""

    def __init__(self) -> None:
        self._inner = httpx.HTTPTransport()
        self._first: bytes | None = None

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self._first is None:
            response = self._inner.handle_request(request)
            self._first = response.read()
        return httpx.Response(200, content=self._first, headers={"content-type": "application/json"})


class _UnreachableTransport(httpx.BaseTransport):
    """A data API that cannot be reached: the poll fails and says so in ``ingestion_runs``."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)


def stack_settings(
    tmp_path: Path, sample_csv: Path, *, data_api_port: int, inference_port: int, airflow_port: int
) -> Settings:
    """The settings every process of the stack shares (none read from the caller's environment)."""
    return Settings(
        _env_file=None,
        **{  # type: ignore[call-arg]
            "data_dir": tmp_path,
            "data_source": str(sample_csv),
            "groups": 3,
            "batches": 5,
            "batch_interval": 0,
            "sample_fraction": 0.2,
            "data_api_url": f"http://127.0.0.1:{data_api_port}",
            "inference_api_url": f"http://127.0.0.1:{inference_port}",
            "model_poll_interval": 1,
            "mlflow_tracking_uri": f"sqlite:///{tmp_path / 'mlflow.db'}",
            "mlflow_ui_url": "http://127.0.0.1:5000",
            "http_retries": 2,
            "http_backoff": 0.1,
            "api_token": OPERATOR_TOKEN,
            "airflow_api_url": f"http://127.0.0.1:{airflow_port}",
            "airflow_username": AIRFLOW_USER,
            "airflow_password": AIRFLOW_PASSWORD,
        },
    )


def _service(
    name: str,
    command: list[str],
    health: str,
    port: int,
    env: dict[str, str],
    logs: Path,
    start_timeout: float = 120,
) -> Service:
    log = logs / f"{name}.log"
    return Service(name, command, health, port, env=env, log_path=log, start_timeout=start_timeout)


def fill_registry_and_store(settings: Settings) -> None:
    """Four polls that store rows (one with two spoiled rows), one skipped for want of new rows, one
    failed, and two trainings between them: two registered versions. Batches 3 and 4, stored once a
    champion exists, are scored by it as ``covertype ingest`` does (test-then-train, ``batch_quality``)."""
    with httpx.Client(base_url=settings.data_api_url, transport=_CorruptingTransport()) as spoiled:
        ingest_once(settings, client=spoiled)
    ingest_once(settings)
    run_training(settings, Registry.from_settings(settings), candidates="logreg", time_budget=2, force=True)
    with httpx.Client(base_url=settings.data_api_url, transport=_ReplayingTransport()) as replaying:
        _evaluated(settings, ingest_once(settings, client=replaying).batch_number)  # batch 3, stored
        ingest_once(settings, client=replaying)  # batch 3 again: no new rows
    unreachable = httpx.Client(base_url=settings.data_api_url, transport=_UnreachableTransport())
    with unreachable, suppress(IngestionFailed):
        ingest_once(settings, client=unreachable)
    run_training(settings, Registry.from_settings(settings), candidates="logreg", time_budget=2, force=True)
    _evaluated(settings, ingest_once(settings).batch_number)  # batch 4, by the champion after the training


def _evaluated(settings: Settings, batch_number: int | None) -> None:
    assert batch_number is not None
    evaluation = evaluate_batch(settings, settings.group, batch_number)
    assert evaluation.status == "evaluated", evaluation.detail


@contextmanager
def ui_stack(tmp_path: Path, sample_csv: Path) -> Iterator[UiStack]:
    """Start everything, fill store and registry, yield the URLs; stop every process on exit."""
    data_port, inference_port, ui_port, airflow_port = (unused_port() for _ in range(4))
    ports = {"data_api_port": data_port, "inference_port": inference_port, "airflow_port": airflow_port}
    settings = stack_settings(tmp_path, sample_csv, **ports)
    env = settings.child_environ(os.environ)
    logs = tmp_path / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        stack.enter_context(
            _service(
                "data-api",
                [COVERTYPE, "data-api", "--port", str(data_port)],
                f"http://127.0.0.1:{data_port}/health",
                data_port,
                env,
                logs,
                start_timeout=90,
            )
        )
        fill_registry_and_store(settings)
        stack.enter_context(
            _service(
                "inference-api",
                [COVERTYPE, "inference-api", "--port", str(inference_port)],
                f"http://127.0.0.1:{inference_port}/ready",
                inference_port,
                env,
                logs,
            )
        )
        stack.enter_context(
            _service(
                "ui",
                streamlit_command(host="127.0.0.1", port=ui_port),
                f"http://127.0.0.1:{ui_port}/_stcore/health",
                ui_port,
                env,
                logs,
            )
        )
        yield UiStack(
            settings,
            env,
            f"http://127.0.0.1:{ui_port}",
            settings.inference_api_url,
            settings.data_api_url,
            airflow_port,
        )


#: The Airflow admin the UI logs in as (the simple auth manager reads the password from a file).
AIRFLOW_USER, AIRFLOW_PASSWORD = "admin", "ui-test-airflow-password"


def _airflow_env(home: Path) -> dict[str, str]:
    """Airflow's environment with the simple auth manager's admin (its password comes from a file)."""
    return airflow_env(
        home,
        Settings(data_dir=home),
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS=f"{AIRFLOW_USER}:admin",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE=str(home / "passwords.json"),
        AIRFLOW__API_AUTH__JWT_SECRET="ui-test-jwt-secret-not-a-real-one",
    )


@contextmanager
def airflow_api_server(home: Path, port: int) -> Iterator[str]:
    """A real ``airflow api-server`` on a fresh metadata database that knows both DAGs (no scheduler);
    yields its URL. Runs are made through its REST API by :func:`add_dag_run`."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "passwords.json").write_bytes(orjson.dumps({AIRFLOW_USER: AIRFLOW_PASSWORD}))
    env = _airflow_env(home)
    airflow = str(Path(sys.executable).parent / "airflow")
    for command in (["db", "migrate"], ["dags", "reserialize"]):
        result = subprocess.run(
            [airflow, *command], env=env, cwd=home, capture_output=True, text=True, timeout=300
        )
        assert result.returncode == 0, f"airflow {' '.join(command)}: {result.stderr[-3000:]}"
    url = f"http://127.0.0.1:{port}"
    server = Service(
        "airflow-api-server",
        [airflow, "api-server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        f"{url}/api/v2/monitor/health",
        port,
        env=env,
        log_path=home / "api-server.log",
        start_timeout=180,
    )
    with server:
        yield url


def add_dag_run(url: str, dag_id: str, state: str | None) -> str:
    """Trigger ``dag_id`` through the REST API (as the UI's Trigger button does) and, with no scheduler
    to run it, set its end state as "Mark as failed/success" does; the run id."""
    token = httpx.post(
        f"{url}/auth/token", json={"username": AIRFLOW_USER, "password": AIRFLOW_PASSWORD}, timeout=60
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    created = httpx.post(
        f"{url}/api/v2/dags/{dag_id}/dagRuns", json={"logical_date": None}, headers=headers, timeout=60
    )
    assert created.status_code == 200, created.text
    run_id = created.json()["dag_run_id"]
    if state:
        patched = httpx.patch(
            f"{url}/api/v2/dags/{dag_id}/dagRuns/{run_id}", json={"state": state}, headers=headers, timeout=60
        )
        assert patched.status_code == 200, patched.text
    return run_id
