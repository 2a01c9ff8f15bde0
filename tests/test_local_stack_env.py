"""What ``covertype up`` hands its services: the configured settings with the stack's addresses, and Airflow
every address following ``--host``/``--airflow-port`` (no 8080)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from covertype.local_stack import Ports, airflow_admin_password, build_services
from covertype.processes import Service
from covertype.settings import Settings

PORTS = Ports(data_api=18000, inference_api=18001, mlflow=15000, airflow=18080, ui=18501)


def _airflow_env(tmp_path: Path, host: str) -> dict[str, str]:
    """What the stack sets in Airflow's environment (inherited variables left as they are aside)."""
    services = build_services(Settings(data_dir=tmp_path), ports=PORTS, dags_folder=tmp_path, host=host)
    [airflow] = [service for service in services if service.name == "Airflow"]
    return {key: value for key, value in airflow.environment().items() if os.environ.get(key) != value}


def test_task_runners_report_to_the_api_server_on_its_own_port(tmp_path: Path) -> None:
    env = _airflow_env(tmp_path, "127.0.0.1")
    assert env["AIRFLOW__API__PORT"] == "18080"
    assert env["AIRFLOW__API__BASE_URL"] == "http://127.0.0.1:18080"
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:18080/execution/"
    log_ports = {
        env["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"],
        env["AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT"],
    }
    assert len(log_ports) == 2 and not log_ports & {"8080", "8793", "8794"}
    assert not [value for value in env.values() if ":8080" in value]


def test_a_wildcard_bind_is_reached_on_loopback(tmp_path: Path) -> None:
    env = _airflow_env(tmp_path, "0.0.0.0")
    assert env["AIRFLOW__API__HOST"] == "0.0.0.0"
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:18080/execution/"


def _settings_read_by(service: Service) -> Settings:
    """What ``get_settings()`` reads in a real child process with the service's environment."""
    code = "from covertype.settings import get_settings; print(get_settings().model_dump_json())"
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=service.environment(),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return Settings.model_validate_json(result.stdout)


def test_every_service_reads_the_configured_settings_with_the_stacks_addresses(tmp_path: Path) -> None:
    configured = Settings(data_dir=tmp_path, candidates="hgb,logreg", api_token="t0k", batch_interval=2.0)
    services = {
        service.name: service
        for service in build_services(configured, ports=PORTS, dags_folder=tmp_path, host="127.0.0.1")
    }

    api = _settings_read_by(services["data API"])
    ui = _settings_read_by(services["UI"])

    assert (api.candidate_names, api.api_token, api.batch_interval) == (["hgb", "logreg"], "t0k", 2.0)
    assert api.data_dir == tmp_path.resolve()
    assert api.data_api_url == "http://127.0.0.1:18000"
    assert api.inference_api_url == "http://127.0.0.1:18001"
    assert api.mlflow_tracking_uri == "http://127.0.0.1:15000"
    assert api.airflow_api_url == "http://127.0.0.1:18080"
    assert api.airflow_password is None  # the admin's password goes to the web UI only
    assert ui == api.model_copy(
        update={"airflow_username": "admin", "airflow_password": airflow_admin_password(tmp_path / "airflow")}
    )
    assert services["Airflow"].settings == services["inference API"].settings


def test_airflow_is_sized_to_the_cpus_and_mlflow_runs_no_job_runner(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """32 LocalExecutor workers and 7 MLflow job consumers took 4.5 GB on a 2-core machine (issue 21)."""
    for name in ("AIRFLOW__CORE__PARALLELISM", "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG"):
        monkeypatch.delenv(name, raising=False)
    cpus = len(os.sched_getaffinity(0))
    settings = Settings(data_dir=tmp_path)
    services = {s.name: s for s in build_services(settings, ports=PORTS, dags_folder=tmp_path)}

    airflow = services["Airflow"].environment()
    assert airflow["AIRFLOW__CORE__PARALLELISM"] == str(cpus + 1)  # a worker per CPU, one for ingestion
    assert airflow["AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG"] == str(cpus)
    assert services["MLflow"].environment()["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] == "false"

    monkeypatch.setenv("AIRFLOW__CORE__PARALLELISM", "7")  # what the user sets wins
    [airflow_service] = [
        s for s in build_services(settings, ports=PORTS, dags_folder=tmp_path) if s.name == "Airflow"
    ]
    assert airflow_service.environment()["AIRFLOW__CORE__PARALLELISM"] == "7"
