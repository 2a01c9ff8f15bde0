"""What ``covertype up`` hands Airflow: every address follows ``--host``/``--airflow-port`` (no 8080)."""

from __future__ import annotations

from pathlib import Path

from covertype.local_stack import Ports, build_services
from covertype.settings import Settings


def _airflow_env(tmp_path: Path, host: str) -> dict[str, str]:
    ports = Ports(data_api=18000, inference_api=18001, mlflow=15000, airflow=18080, ui=18501)
    services = build_services(Settings(data_dir=tmp_path), ports=ports, dags_folder=tmp_path, host=host)
    [airflow] = [service for service in services if service.name == "Airflow"]
    return airflow.env


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
