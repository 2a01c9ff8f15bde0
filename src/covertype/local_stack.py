"""``covertype up``: the whole system on one machine with embedded defaults, no Docker.

Starts the data API, an MLflow server (SQLite backend, local artifacts), Airflow standalone (home under the
local data dir, ``dags/`` as DAG folder), the inference API and the web UI; prints every URL; stops
everything on Ctrl-C, leaving no orphan process. One stack per state folder (a lock names the holder);
Airflow is sized to the machine's CPUs; a signal while services start stops those already started.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson

from covertype.processes import (
    PortInUse,
    Service,
    StopRequest,
    port_is_free,
    stop_all,
    unused_port,
    usable_cpus,
)
from covertype.settings import Settings
from covertype.ui import streamlit_command

#: One ``covertype up`` per state folder: two stacks on one folder would run two Airflow standalones on one
#: ``airflow.db``. ``flock`` locks this file; the kernel releases it when the holder exits, however it exits,
#: so a stale file never blocks the next start.
LOCK_FILE = "covertype-up.lock"


class StateLocked(RuntimeError):
    """Another process holds the state folder."""


@contextmanager
def hold_state_lock(folder: Path) -> Iterator[None]:
    """Hold the lock of ``folder`` for the ``with`` block; raise :class:`StateLocked` naming the holder."""
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            raise StateLocked(f"covertype is already running from {folder} (pid {holder})") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)


@dataclass(frozen=True)
class Ports:
    data_api: int = 8000
    inference_api: int = 8001
    mlflow: int = 5000
    airflow: int = 8080
    ui: int = 8501


def _bin(name: str) -> str:
    """An executable of this environment (the venv's ``bin/``), falling back to PATH."""
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else name


def airflow_admin_password(airflow_home: Path) -> str:
    """The local admin's password: generated once, kept in the simple auth manager's passwords file."""
    path = airflow_home / "passwords.json"
    if path.is_file():
        return str(orjson.loads(path.read_bytes())["admin"])
    password = secrets.token_urlsafe(12)
    airflow_home.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps({"admin": password}))
    path.chmod(0o600)
    return password


def reachable(host: str) -> str:
    """The address clients use for a server bound to ``host`` (a wildcard bind is not an address)."""
    return "127.0.0.1" if host in {"0.0.0.0", "::", ""} else host


def airflow_address_env(host: str, port: int) -> dict[str, str]:
    """Where Airflow's API server listens and where its parts reach it.

    Airflow 3's task runner reports to the execution API at ``[core] execution_api_server_url``, which
    defaults to ``http://localhost:8080/execution/`` whatever port the API server got: on another port
    every task would stop at "Pre Execute" (or report to whatever else answers on 8080).
    """
    base_url = f"http://{reachable(host)}:{port}"
    return {
        "AIRFLOW__API__HOST": host,
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": base_url,
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{base_url}/execution/",
        # The scheduler's and the triggerer's log servers default to 8793 and 8794 on every interface:
        # a second Airflow on the machine would clash there.
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(unused_port()),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(unused_port()),
    }


def airflow_sizing_env(cpus: int) -> dict[str, str]:
    """Airflow standalone sized to ``cpus``: one LocalExecutor worker per CPU for training, one for ingestion.

    The LocalExecutor starts ``[core] parallelism`` worker processes (32 by default, ~150 MB each). A DAG run
    may use ``cpus`` of them, so a training run's mapped candidates (CPU-bound: more would only share the
    CPUs) always leave a worker free for the next ingestion. One DAG parser is enough for two DAG files.
    Variables set in the environment of ``covertype up`` win.
    """
    sizing = {
        "AIRFLOW__CORE__PARALLELISM": str(cpus + 1),
        "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": str(cpus),
        "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
    }
    return {name: os.environ.get(name, value) for name, value in sizing.items()}


#: The MLflow server's background job runner (consumers for GenAI jobs, ~280 MB each) is off, as in compose.
MLFLOW_SERVER_ENV = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}


def build_services(
    settings: Settings, *, ports: Ports, dags_folder: Path, host: str = "127.0.0.1", airflow: bool = True
) -> list[Service]:
    """The services of the local stack, in start order, sharing one set of settings.

    The configured settings with the stack's addresses in place: each service reads them back from its
    environment (:meth:`Settings.child_environ`), Airflow's tasks included.
    """
    data_dir = settings.data_dir.resolve()
    logs = data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    client_host = reachable(host)
    mlflow_uri = f"http://{client_host}:{ports.mlflow}"
    addresses: dict[str, object] = {
        "data_dir": data_dir,
        "data_api_url": f"http://{client_host}:{ports.data_api}",
        "inference_api_url": f"http://{client_host}:{ports.inference_api}",
        "mlflow_tracking_uri": mlflow_uri,
    }
    if airflow:
        addresses["airflow_api_url"] = f"http://{client_host}:{ports.airflow}"
    stack_settings = settings.model_copy(update=addresses)
    env = {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    covertype = _bin("covertype")
    services = [
        Service(
            "data API",
            [covertype, "data-api", "--host", host, "--port", str(ports.data_api)],
            f"http://{client_host}:{ports.data_api}/health",
            ports.data_api,
        ),
        Service(
            "MLflow",
            [
                _bin("mlflow"),
                "server",
                "--backend-store-uri",
                f"sqlite:///{data_dir / 'mlflow.db'}",
                "--artifacts-destination",
                str(data_dir / "mlartifacts"),
                "--host",
                host,
                "--port",
                str(ports.mlflow),
                "--workers",
                "1",
            ],
            f"{mlflow_uri}/health",
            ports.mlflow,
            env=dict(MLFLOW_SERVER_ENV),
        ),
    ]
    ui_settings = stack_settings  # the Pipeline page reads DAG runs from Airflow's REST API as the admin
    if airflow:
        home = data_dir / "airflow"
        ui_settings = stack_settings.model_copy(
            update={"airflow_username": "admin", "airflow_password": airflow_admin_password(home)}
        )
        services.append(
            Service(
                "Airflow",
                [_bin("airflow"), "standalone"],
                f"http://{client_host}:{ports.airflow}/api/v2/monitor/health",
                ports.airflow,
                env={
                    "AIRFLOW_HOME": str(home),
                    "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder.resolve()),
                    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                    "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
                    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
                    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
                    **airflow_address_env(host, ports.airflow),
                    **airflow_sizing_env(usable_cpus()),
                },
            )
        )
    services.append(
        Service(
            "inference API",
            [covertype, "inference-api", "--host", host, "--port", str(ports.inference_api)],
            f"http://{client_host}:{ports.inference_api}/health",
            ports.inference_api,
        )
    )
    services.append(
        Service(
            "UI",
            streamlit_command(host=host, port=ports.ui),
            f"http://{client_host}:{ports.ui}/_stcore/health",
            ports.ui,
            settings=ui_settings,
        )
    )
    for service in services:
        if service.settings is None:
            service.settings = stack_settings
        service.env = {**env, **service.env}
        service.log_path = logs / f"{service.name.lower().replace(' ', '-')}.log"
    return services


def check_ports(services: Sequence[Service], host: str) -> None:
    taken = [s for s in services if not port_is_free(host, s.port)]
    if taken:
        names = ", ".join(f"{s.name} needs {host}:{s.port}" for s in taken)
        raise PortInUse(f"port already in use: {names}. Stop what holds it or choose another port (--help).")


def data_note(data_api_health_url: str, sample_fraction: float) -> str:
    """How many of the source's rows a group receives: at the default fraction of 0.1, the 15,000-row sample
    brings 1,500 rows in all, too few to show the pipeline learning, and the user should know it."""
    health = httpx.get(data_api_health_url, timeout=10).json()
    rows, batches = int(health["rows"]), int(health["batches"])
    note = (
        f"each group receives about {rows * sample_fraction:,.0f} of the source's {rows:,} rows "
        f"({sample_fraction:.0%} of each of its {batches} batches"
    )
    return note + ("; COVERTYPE_SAMPLE_FRACTION=1 sends them all)" if sample_fraction < 1 else ")")


def urls(services: Sequence[Service], settings: Settings) -> list[tuple[str, str]]:
    """(what, where) lines printed for the user once everything answers."""
    by_name = {s.name: s.health_url.rsplit("/", 1)[0] for s in services}
    lines = [
        ("data API", f"{by_name['data API']}/docs"),
        ("inference API", f"{by_name['inference API']}/docs"),
        ("MLflow UI", by_name["MLflow"]),
        ("web UI", by_name["UI"].removesuffix("/_stcore")),
    ]
    if "Airflow" in by_name:
        airflow_url = by_name["Airflow"].removesuffix("/api/v2/monitor")
        password = airflow_admin_password(settings.data_dir.resolve() / "airflow")
        lines.append(("Airflow UI", f"{airflow_url}  (login admin / {password})"))
    lines.append(("logs", str(settings.data_dir.resolve() / "logs")))
    return lines


def run_stack(
    services: Sequence[Service],
    *,
    host: str,
    on_ready: Callable[[], None],
    on_service_ready: Callable[[Service, float], None] | None = None,
    timeout: float = 240.0,
    stop_timeout: float = 10.0,
) -> None:
    """Start every service in order, call ``on_ready``, block until SIGINT/SIGTERM, then stop them all.

    ``on_service_ready`` hears of each service as it answers, with the seconds since the start. A signal
    while services start raises :class:`Interrupted` once what had started is stopped; whatever happens,
    every started process group is gone (SIGKILL after ``stop_timeout`` seconds) when this returns.
    """
    check_ports(services, host)
    started: list[Service] = []
    began = time.monotonic()
    with StopRequest() as stop:
        try:
            for service in services:
                stop.sleep(0)
                service.start()
                started.append(service)
                service.wait_healthy(timeout, stop)
                if on_service_ready is not None:
                    on_service_ready(service, time.monotonic() - began)
            on_ready()
            while not stop.wait(1.0):
                for service in started:
                    service.check_running()
        finally:
            stop_all(started, stop_timeout)
