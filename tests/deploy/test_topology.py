"""The full stack's topology run for real: what docker-compose.yaml starts as containers, started here as
processes on loopback ports, each with the environment compose gives it.

No container engine runs here, so the services' environments are read from docker-compose.yaml itself
(interpolated with `.env.example` plus the overrides a `.env` would hold) and only the addresses change:
each compose host name is mapped to a loopback port, each database and user name to a throw-away one.
What the images set themselves (paths under /opt, /var/lib) is given as native paths, listed per service.

- Airflow 3 with the CeleryExecutor: metadata on this machine's PostgreSQL (a database made and dropped
  here), broker on Redis (a database number of its own), airflow-init's script, then api-server, scheduler,
  dag-processor, triggerer and one Celery worker;
- mysql-init/ applied to MariaDB under throw-away names; ingestion writes as the least-privilege user;
- the MLflow server with its backend store in MariaDB, MLflow's basic-auth on (permissions in SQLite),
  artifacts proxied to S3, and mlflow-setup's users and grants;
- a moto server stands in for MinIO (the S3 API on one port; buckets as minio-setup makes them);
- the data API, and the inference API serving models:/covertype@champion through the MLflow server.

Then covertype_ingest runs on its schedule, its asset event schedules covertype_train, whose mapped
candidates run on the Celery worker; the champion's artifacts are looked up in the S3 bucket itself; the
inference API answers with that version; its MLflow user is refused moving the alias.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import boto3
import httpx
import psutil
import psycopg2
import pytest
import redis
import yaml
from cryptography.fernet import Fernet
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from sqlalchemy import create_engine, text

from covertype.dataset import load_dataset
from covertype.processes import Service
from covertype.schema import FEATURE_COLUMNS
from covertype.store.migrate import head_revision
from support.compose import COMPOSE_PATH, ENV_EXAMPLE_PATH, SECRET_NAME, interpolate_tree, read_env_file
from support.dockerfile import cmd as image_cmd
from support.mysql_init import Names, mysql_init_applied, run_as_root
from support.paths import REPO_ROOT, SAMPLE_CSV
from support.services import free_port
from support.training import boto_keys

pytestmark = [pytest.mark.slow, pytest.mark.mariadb]

BIN = Path(sys.executable).parent
T = TypeVar("T")

#: What a user's .env would change for a short run: small batches, two fast candidates, a quick poll.
DOTENV_OVERRIDES = {
    "COVERTYPE_DATA_SOURCE": str(SAMPLE_CSV),
    "COVERTYPE_BATCHES": "5",
    "COVERTYPE_SAMPLE_FRACTION": "0.2",  # 15,000 rows / 5 batches * 0.2 = 600 rows a poll
    "COVERTYPE_BATCH_INTERVAL": "60",
    # hgb is left out: its early-stopping split is stratified and fails when a class has a single row,
    # which a 600-row batch can have (found by this test; reported, not fixed here).
    "COVERTYPE_CANDIDATES": "logreg,extra_trees",
    "COVERTYPE_TRAIN_TIME_BUDGET": "3",
    "COVERTYPE_MODEL_POLL_INTERVAL": "2",
    "AIRFLOW_WORKER_CONCURRENCY": "2",
}


# -- compose's environment, localised -------------------------------------------------------------------

#: scheme://[user[:password]@]host:port[/path]
URL = re.compile(
    r"(?P<scheme>[a-z][a-z0-9+]*://)(?:(?P<user>[^:@/\s]+)(?P<password>:[^@/\s]*)?@)?"
    r"(?P<endpoint>[A-Za-z0-9.-]+:\d+)(?P<path>/[^\s?]*)?"
)


@dataclass
class Localizer:
    """Compose's addresses and names mapped to this machine's: ``host:port``, users, databases."""

    endpoints: dict[str, str]
    users: dict[str, str]
    databases: dict[str, str]

    def __call__(self, value: str) -> str:
        if value in self.endpoints:  # a bare host:port (COVERTYPE_MINIO_ENDPOINT)
            return self.endpoints[value]

        def one(match: re.Match[str]) -> str:
            endpoint = match["endpoint"]
            if endpoint not in self.endpoints:
                return match[0]
            user = match["user"]
            credentials = "" if user is None else f"{self.users.get(user, user)}{match['password'] or ''}@"
            path = match["path"] or ""
            if path.strip("/") in self.databases:
                path = "/" + self.databases[path.strip("/")]
            return f"{match['scheme']}{credentials}{self.endpoints[endpoint]}{path}"

        return URL.sub(one, value)

    def environment(self, service: Mapping[str, Any]) -> dict[str, str]:
        env = {key: self(str(value)) for key, value in service.get("environment", {}).items()}
        hosts = "|".join(re.escape(endpoint.split(":")[0]) for endpoint in self.endpoints)
        leftover = {k: v for k, v in env.items() if re.search(rf"(^|[/@])({hosts}):\d+", v)}
        assert not leftover, f"compose addresses the test does not map: {leftover}"
        return env


def on_loopback(command: list[str], port: int) -> list[str]:
    """A container's command bound to 127.0.0.1:``port`` instead of 0.0.0.0:<container port>."""
    out: list[str] = []
    for i, arg in enumerate(command):
        before = command[i - 1] if i else ""
        if arg.startswith("--host=") or before == "--host":
            arg = "--host=127.0.0.1" if arg.startswith("--host=") else "127.0.0.1"
        elif arg.startswith("--port=") or before == "--port":
            arg = f"--port={port}" if arg.startswith("--port=") else str(port)
        out.append(arg)
    return out


# -- small helpers -----------------------------------------------------------------------------------------


@dataclass
class Stages:
    """How long each stage took, printed at the end whatever happened."""

    rows: list[tuple[str, float]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.monotonic()
        try:
            yield
        finally:
            self.rows.append((name, time.monotonic() - start))

    def report(self) -> str:
        lines = [f"  {name:<58} {seconds:7.1f} s" for name, seconds in self.rows]
        total = f"  {'total':<58} {sum(s for _, s in self.rows):7.1f} s"
        return "\n".join(["topology stages:", *lines, total, *self.notes])


def wait_for(probe: Callable[[], T | None], *, timeout: float, what: str, every: float = 2.0) -> T:
    """``probe()`` until it returns something; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result is not None:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout:.0f} s")
        time.sleep(every)


def rss_mb(service: Service) -> float:
    """Resident memory of a service's process and everything it started, in MB."""
    if service.process is None:
        return 0.0
    try:
        root = psutil.Process(service.process.pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0
    for process in processes:
        try:
            total += process.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total / 1e6


def tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.is_file() else ""


# -- the throw-away databases --------------------------------------------------------------------------


@contextmanager
def postgres_database() -> Iterator[str]:
    name = f"airflow_topology_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres")
    admin.autocommit = True
    try:
        admin.cursor().execute(f'CREATE DATABASE "{name}"')
        yield name
    finally:
        admin.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@contextmanager
def redis_database() -> Iterator[int]:
    """An empty Redis database number (0 is left to others), flushed afterwards."""
    for number in secrets.SystemRandom().sample(range(1, 16), 15):
        client = redis.Redis(host="127.0.0.1", port=6379, db=number)
        if client.dbsize() == 0:
            break
    else:
        pytest.fail("no empty Redis database number left")
    try:
        yield number
    finally:
        client.flushdb()
        client.close()


# -- the test --------------------------------------------------------------------------------------------


@pytest.mark.timeout(1200)
def test_the_compose_topology_ingests_trains_on_celery_and_serves_the_champion(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    stages = Stages()
    try:
        with ExitStack() as stack:
            _run(tmp_path, stack, stages, monkeypatch)
    finally:
        with capsys.disabled():
            print("\n" + stages.report())


def _run(tmp: Path, stack: ExitStack, stages: Stages, monkeypatch: pytest.MonkeyPatch) -> None:
    ports = {name: free_port() for name in ("moto", "mlflow", "data", "inference", "airflow", "health")}
    # .env: the example's values, fresh secrets, the short-run overrides.
    dotenv = read_env_file(ENV_EXAMPLE_PATH)
    for key in dotenv:
        if SECRET_NAME.search(key):
            dotenv[key] = secrets.token_urlsafe(18)
    dotenv["AIRFLOW_FERNET_KEY"] = Fernet.generate_key().decode()
    dotenv |= DOTENV_OVERRIDES | {"AIRFLOW_BASE_URL": f"http://127.0.0.1:{ports['airflow']}"}
    compose = interpolate_tree(yaml.safe_load(COMPOSE_PATH.read_text()), dotenv)
    services = compose["services"]

    with stages.stage("databases: mysql-init, PostgreSQL, Redis"):
        names: Names = stack.enter_context(
            mysql_init_applied(dotenv["MYSQL_COVERTYPE_PASSWORD"], dotenv["MYSQL_MLFLOW_PASSWORD"])
        )
        airflow_db = stack.enter_context(postgres_database())
        redis_db = stack.enter_context(redis_database())
    local = Localizer(
        endpoints={
            "mysql:3306": "127.0.0.1:3306",
            "minio:9000": f"127.0.0.1:{ports['moto']}",
            "mlflow:5000": f"127.0.0.1:{ports['mlflow']}",
            "api-data:8000": f"127.0.0.1:{ports['data']}",
            "inference-lb:8001": f"127.0.0.1:{ports['inference']}",
            "airflow-apiserver:8080": f"127.0.0.1:{ports['airflow']}",
            "airflow-postgres:5432": "127.0.0.1:5432",
            "airflow-redis:6379": "127.0.0.1:6379",
        },
        # PostgreSQL here trusts local connections as its superuser; compose's `airflow` role is not made.
        users={"covertype": names.covertype_user, "mlflow": names.mlflow_user, "airflow": "postgres"},
        databases={
            "covertype": names.covertype_db,
            "mlflow": names.mlflow_db,
            "airflow": airflow_db,
            "0": str(redis_db),
        },
    )
    path = {"PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    logs = tmp / "logs"
    logs.mkdir()

    with stages.stage("covertype-db-migrate (covertype db upgrade, privileged)"):
        # MariaDB's root here has no password; a throw-away admin with compose's root password stands in.
        admin = f"{names.covertype_user}_dba"
        run_as_root(
            [
                f"CREATE USER '{admin}'@'%' IDENTIFIED BY '{dotenv['MYSQL_ROOT_PASSWORD']}'",
                f"GRANT ALL PRIVILEGES ON `{names.covertype_db}`.* TO '{admin}'@'%'",
            ]
        )
        stack.callback(run_as_root, [f"DROP USER IF EXISTS '{admin}'@'%'"])
        migrate = services["covertype-db-migrate"]
        migrated = subprocess.run(
            [*migrate["entrypoint"], *migrate["command"]],
            env={**Localizer(local.endpoints, {"root": admin}, local.databases).environment(migrate), **path},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert migrated.returncode == 0, migrated.stderr
        assert json.loads(migrated.stdout)["after"] == head_revision(), migrated.stdout

    started: list[Service] = []

    def start(name: str, command: list[str], health: str, port: int, env: dict[str, str]) -> Service:
        service = Service(name, command, health, port, env={**env, **path}, log_path=logs / f"{name}.log")
        service.start()
        started.append(service)
        stack.callback(service.stop, 15)
        return service

    # A moto server stands in for MinIO (no container engine here); buckets as minio-setup creates them.
    with stages.stage("S3 (moto, standing in for MinIO) and its buckets"):
        s3_url = f"http://127.0.0.1:{ports['moto']}"
        moto = start("moto", [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(ports["moto"])],
                     f"{s3_url}/moto-api/", ports["moto"], {})  # fmt: skip
        moto.wait_healthy(60)
        s3 = boto3.client("s3", endpoint_url=s3_url, **boto_keys())
        buckets = re.findall(
            r"mc mb --ignore-existing local/(\S+)", "\n".join(services["minio-setup"]["command"])
        )
        assert set(buckets) == {"mlflows3", "snapshots"}
        for bucket in buckets:
            s3.create_bucket(Bucket=bucket)

    # Started in compose's order, not one after the other: MLflow comes up while Airflow migrates and starts;
    # the Celery worker and the inference API wait for mlflow-setup, as their depends_on say.
    with stages.stage("MLflow server started (MariaDB store, basic-auth)"):
        auth_ini = tmp / "basic_auth.ini"  # the image's file, its SQLite path moved out of /var/lib/mlflow
        auth_ini.write_text(
            (REPO_ROOT / "mlflow" / "basic_auth.ini").read_text().replace("/var/lib/mlflow", str(tmp))
        )
        mlflow_url = f"http://127.0.0.1:{ports['mlflow']}"
        command = on_loopback(services["mlflow"]["command"], ports["mlflow"])
        mlflow_env = local.environment(services["mlflow"]) | {"MLFLOW_AUTH_CONFIG_PATH": str(auth_ini)}
        assert not any(dotenv["MYSQL_MLFLOW_PASSWORD"] in arg for arg in command)
        mlflow_server = start("mlflow", [str(BIN / command[0]), *command[1:]], f"{mlflow_url}/health",
                              ports["mlflow"], mlflow_env)  # fmt: skip

    with stages.stage("data API"):
        data_env = local.environment(services["api-data"]) | {
            "COVERTYPE_DATA_DIR": str(tmp / "api-data"),  # the image's ENV (its volume)
            "COVERTYPE_STATE_PATH": str(tmp / "api-data" / "state.sqlite"),
        }
        command = on_loopback(image_cmd("data-api"), ports["data"])
        start("api-data", [str(BIN / command[0]), *command[1:]], f"http://127.0.0.1:{ports['data']}/health",
              ports["data"], data_env).wait_healthy(120)  # fmt: skip

    airflow_home = tmp / "airflow"
    airflow_native = {  # what the image sets: its home, its DAG folder, the auth volume's file, the logs
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(airflow_home / "auth" / "passwords.json"),
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(airflow_home / "logs"),
        # the scheduler's health server on a free loopback port, not 0.0.0.0:8974
        "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_HOST": "127.0.0.1",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(ports["health"]),
    }
    (airflow_home / "auth").mkdir(parents=True)

    def airflow_env(name: str) -> dict[str, str]:
        return local.environment(services[name]) | airflow_native

    with stages.stage("airflow-init (db migrate on PostgreSQL, admin password)"):
        env = airflow_env("airflow-init")
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
        assert env["AIRFLOW__CELERY__BROKER_URL"] == f"redis://127.0.0.1:6379/{redis_db}"
        entrypoint, script = services["airflow-init"]["entrypoint"], services["airflow-init"]["command"][0]
        init = subprocess.run([*entrypoint, script], env={**os.environ, **env, **path},
                              capture_output=True, text=True, timeout=600)  # fmt: skip
        assert init.returncode == 0, init.stderr[-3000:]
        password = json.loads((airflow_home / "auth" / "passwords.json").read_text())["admin"]
        assert password == dotenv["AIRFLOW_ADMIN_PASSWORD"]

    airflow_url = f"http://127.0.0.1:{ports['airflow']}"
    with stages.stage("Airflow: api-server, scheduler, dag-processor, triggerer started"):
        # The worker's and the triggerer's log servers bind 0.0.0.0 on fixed ports: skipped here (compose
        # shares the logs volume instead).
        extra = {
            "airflow-apiserver": ["--host", "127.0.0.1", "--port", str(ports["airflow"])],
            "airflow-triggerer": ["--skip-serve-logs"],
            "airflow-worker": ["--skip-serve-logs"],
        }
        components = {}

        def start_airflow(name: str) -> None:
            env = airflow_env(name)
            for key in ("AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__CORE__EXECUTION_API_SERVER_URL"):
                assert env.get(key), f"{name}: {key} must be set, or tasks fail"
            assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == f"{airflow_url}/execution/"
            command = [str(BIN / "airflow"), *services[name]["command"].split(), *extra.get(name, [])]
            components[name] = start(
                name, command, f"{airflow_url}/api/v2/monitor/health", ports["airflow"], env
            )

        for name in ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer"):
            start_airflow(name)

    with stages.stage("MLflow ready, mlflow-setup (users and grants)"):
        mlflow_server.wait_healthy(300)
        setup_env = local.environment(services["mlflow-setup"])
        setup = subprocess.run(
            [sys.executable, *services["mlflow-setup"]["command"][1:]],
            env={**os.environ, **setup_env, **path}, capture_output=True, text=True, timeout=180,
        )  # fmt: skip
        assert setup.returncode == 0, setup.stderr[-3000:]

    with stages.stage("Celery worker started, every Airflow component healthy"):
        start_airflow("airflow-worker")
        secrets_seen = {airflow_env(n)["AIRFLOW__API_AUTH__JWT_SECRET"] for n in components}
        assert secrets_seen == {dotenv["AIRFLOW_JWT_SECRET"]}, "every component must share one JWT secret"
        components["airflow-apiserver"].wait_healthy(180)

        def all_healthy() -> bool | None:
            try:
                health = httpx.get(f"{airflow_url}/api/v2/monitor/health", timeout=30).json()
            except httpx.HTTPError:
                return None
            parts = ("metadatabase", "scheduler", "triggerer", "dag_processor")
            return True if all(health[p]["status"] == "healthy" for p in parts) else None

        wait_for(all_healthy, timeout=240, what="Airflow's components healthy")

    with stages.stage("inference API (reader user)"):
        inference_env = local.environment(services["inference-api"]) | {
            "COVERTYPE_DATA_DIR": str(tmp / "inference")
        }
        assert inference_env["MLFLOW_TRACKING_USERNAME"] == dotenv["MLFLOW_READER_USER"]
        command = on_loopback(image_cmd("inference-api"), ports["inference"])
        inference_url = f"http://127.0.0.1:{ports['inference']}"
        start("inference-api", [str(BIN / command[0]), *command[1:]], f"{inference_url}/health",
              ports["inference"], inference_env).wait_healthy(120)  # fmt: skip

    token = httpx.post(
        f"{airflow_url}/auth/token",
        timeout=30,
        json={"username": dotenv["AIRFLOW_ADMIN_USER"], "password": dotenv["AIRFLOW_ADMIN_PASSWORD"]},
    ).json()
    api = httpx.Client(base_url=f"{airflow_url}/api/v2", timeout=30,
                       headers={"Authorization": f"Bearer {token['access_token']}"})  # fmt: skip
    stack.callback(api.close)
    worker_log = logs / "airflow-worker.log"

    def finished_run(dag_id: str) -> dict[str, Any] | None:
        runs = api.get(f"/dags/{dag_id}/dagRuns", params={"order_by": "-run_after"}).json()["dag_runs"]
        failed = [r for r in runs if r["state"] == "failed"]
        if failed:
            tis = api.get(f"/dags/{dag_id}/dagRuns/{failed[0]['dag_run_id']}/taskInstances").json()
            states = {f"{t['task_id']}[{t['map_index']}]": t["state"] for t in tis["task_instances"]}
            pytest.fail(f"{dag_id} run failed: {states}\nworker log:\n{tail(worker_log)}")
        return next((r for r in runs if r["state"] == "success"), None)

    with stages.stage("covertype_ingest on its schedule -> MariaDB"):
        ingest = wait_for(
            lambda: finished_run("covertype_ingest"), timeout=300, what="a covertype_ingest run"
        )
        assert ingest["run_type"] == "scheduled"
        store = create_engine(local.environment(services["airflow-worker"])["COVERTYPE_DATABASE_URL"])
        assert store.url.username == names.covertype_user  # ingestion wrote as the least-privilege user
        with store.connect() as connection:
            stored = connection.execute(text("SELECT COUNT(*) FROM forest_cover_data")).scalar_one()
            inserted = connection.execute(text("SELECT SUM(rows_inserted) FROM ingestion_runs")).scalar_one()
        store.dispose()
        assert stored > 0 and stored == inserted, (stored, inserted)

    with stages.stage("covertype_train on the asset event, candidates on Celery"):
        train = wait_for(lambda: finished_run("covertype_train"), timeout=600, what="a covertype_train run")
        assert train["run_type"] == "asset_triggered"
        tis = api.get(f"/dags/covertype_train/dagRuns/{train['dag_run_id']}/taskInstances").json()
        candidates = {t["map_index"]: t for t in tis["task_instances"] if t["task_id"] == "train_candidate"}
        assert sorted(candidates) == [0, 1] and {t["state"] for t in candidates.values()} == {"success"}
        executed = [line for line in worker_log.read_text(errors="replace").splitlines()
                    if "Executing workload in Celery" in line]  # fmt: skip
        for ti in candidates.values():  # each mapped candidate went through the broker to the worker
            assert any(f"id=UUID('{ti['id']}')" in line for line in executed), (ti, tail(worker_log))

    def as_user(role: str) -> MlflowClient:
        monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", dotenv[f"MLFLOW_{role}_USER"])
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", dotenv[f"MLFLOW_{role}_PASSWORD"])
        return MlflowClient(tracking_uri=mlflow_url, registry_uri=mlflow_url)

    with stages.stage("champion and its artifacts in the S3 bucket"):
        model_name = services["inference-api"]["environment"]["COVERTYPE_MODEL_NAME"]
        training = as_user("TRAINING")
        champion = training.get_model_version_by_alias(model_name, "champion")
        artifacts = training.get_model_version_download_uri(model_name, champion.version)
        assert artifacts.startswith("mlflow-artifacts:/"), artifacts  # proxied by the server
        prefix = artifacts.removeprefix("mlflow-artifacts:").strip("/")
        keys = {o["Key"] for o in s3.list_objects_v2(Bucket="mlflows3", Prefix=prefix).get("Contents", [])}
        assert f"{prefix}/MLmodel" in keys, sorted(keys)[:20]
        snapshots = s3.list_objects_v2(Bucket="snapshots").get("Contents", [])
        assert snapshots, "no training snapshot in the snapshots bucket"

    with stages.stage("inference API serves the champion"):

        def serving() -> str | None:
            """The version served once it is the current champion (a later training may promote another)."""
            try:
                answer = httpx.get(f"{inference_url}/model", timeout=30)
            except httpx.HTTPError:
                return None
            current = training.get_model_version_by_alias(model_name, "champion").version
            return current if answer.status_code == 200 and answer.json().get("version") == current else None

        served = wait_for(
            serving, timeout=180, what=f"the inference API serving the champion ({champion.version})"
        )
        record = load_dataset(SAMPLE_CSV).iloc[0][list(FEATURE_COLUMNS)].to_dict()
        record = {k: v.item() if hasattr(v, "item") else v for k, v in record.items()}
        prediction = httpx.post(f"{inference_url}/predict", json=record, timeout=60)
        assert prediction.status_code == 200, prediction.text
        assert prediction.json()["model_version"] == served
        assert 1 <= prediction.json()["cover_type"] <= 7

    with stages.stage("auth: the inference API's user cannot move the alias"):
        reader = as_user("READER")
        assert reader.get_model_version_by_alias(model_name, "champion").version
        for attempt in (
            lambda: reader.set_registered_model_alias(model_name, "champion", champion.version),
            lambda: reader.delete_registered_model_alias(model_name, "champion"),
        ):
            with pytest.raises(MlflowException, match="PERMISSION_DENIED|Permission denied"):
                attempt()
        assert reader.get_model_version_by_alias(model_name, "champion").version  # still there
        anonymous = httpx.get(
            f"{mlflow_url}/api/2.0/mlflow/registered-models/get?name={model_name}", timeout=60
        )
        assert anonymous.status_code == 401

    memory = {service.name: rss_mb(service) for service in started}
    memory |= {"Airflow together": sum(v for k, v in memory.items() if k.startswith("airflow-"))}
    stages.notes.append("resident memory (MB): " + ", ".join(f"{k} {v:.0f}" for k, v in memory.items()))
    with stages.stage("stop every process"):
        stack.close()
