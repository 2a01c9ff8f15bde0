"""Upgrading MLflow keeps every run, version and alias: compose's `mlflow-db-upgrade` on an old store.

The older release is MLflow 3.0.0 (the first 3.x), installed into a scratch venv cached under
``~/.cache/covertype-tests`` with the dependencies of its day. Its python fills a MariaDB database made by
``mysql-init/`` (the store compose's MLflow uses, under throw-away names) and a basic-auth SQLite database.
Then the one-shot runs as compose types it, only the database address localized, and the locked MLflow
server, started as compose starts it, serves everything the old release wrote.

Found on the way (MLflow 3.17.2): the tracking store does not refuse a 3.0.0 database. A store missing one
of the ORM's tables (every older release's, as the newest migration adds a table) is migrated by whichever
server process opens it first, unlocked across processes, on a request, under the liveness probe;
"Detected out-of-date database schema" only comes when every table exists at an older revision. The
one-shot makes the migration one step, before the server, that fails the start when it fails.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import mlflow.store
import pytest
import yaml
from alembic.script import ScriptDirectory
from mlflow import MlflowClient
from sqlalchemy import create_engine, inspect, make_url, text

from covertype.processes import Service, unused_port
from support.compose import COMPOSE_PATH, ENV_EXAMPLE_PATH, interpolate_tree, read_env_file
from support.mysql_init import Names, mysql_init_applied, schema_of
from support.paths import REPO_ROOT
from support.topology import mlflow_command

OLD_MLFLOW = "3.0.0"
#: uv's --exclude-newer: the old release with the dependencies a deployment got in its month.
OLD_MLFLOW_DEPENDENCIES_AS_OF = "2025-06-20T00:00:00Z"
OLD_VENV = Path.home() / ".cache" / "covertype-tests" / f"mlflow-{OLD_MLFLOW}"
OLD_STORE_SCRIPT = REPO_ROOT / "tests" / "support" / "old_mlflow_store.py"
K8S_MLFLOW = REPO_ROOT / "deploy" / "kubernetes" / "base" / "mlflow.yaml"
STEP = "mlflow-db-upgrade"
#: The locked MLflow's newest schema revision.
HEAD = ScriptDirectory(str(Path(mlflow.store.__file__).parent / "db_migrations")).get_current_head()


# -- the older release -----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def old_mlflow_python(pytestconfig: pytest.Config) -> Path:
    """The python of a venv holding MLflow 3.0.0 (basic-auth extra) and PyMySQL; built once, then reused."""
    python = OLD_VENV / "bin" / "python"
    done = OLD_VENV / "installed"
    uv = shutil.which("uv")
    if uv is None:
        pytest.fail("uv is not on PATH: it installs the older MLflow (export PATH=$HOME/.local/bin:$PATH)")
    OLD_VENV.parent.mkdir(parents=True, exist_ok=True)
    with open(OLD_VENV.parent / f"{OLD_VENV.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one builder at a time (parallel sessions on the same cache)
        if done.is_file():
            return python
        shutil.rmtree(OLD_VENV, ignore_errors=True)  # an interrupted build
        started = time.monotonic()
        for command in (
            [uv, "venv", "--no-config", "--quiet", "--python", sys.executable, str(OLD_VENV)],
            [uv, "pip", "install", "--no-config", "--quiet", "--python", str(python),
             "--exclude-newer", OLD_MLFLOW_DEPENDENCIES_AS_OF, f"mlflow[auth]=={OLD_MLFLOW}", "pymysql"],
        ):  # fmt: skip
            built = subprocess.run(command, capture_output=True, text=True, timeout=900, cwd=OLD_VENV.parent)
            assert built.returncode == 0, f"{' '.join(command[:3])}: {built.stderr}"
        done.write_text(
            f"mlflow[auth]=={OLD_MLFLOW} pymysql, dependencies as of {OLD_MLFLOW_DEPENDENCIES_AS_OF}\n"
        )
        capture = pytestconfig.pluginmanager.getplugin("capturemanager")
        with capture.global_and_fixture_disabled():
            print(f"\nMLflow {OLD_MLFLOW} venv built in {time.monotonic() - started:.1f} s ({OLD_VENV})")
    return python


def make_old_store(python: Path, store_uri: str, tmp: Path, passwords: dict[str, str]) -> dict[str, Any]:
    """``tests/support/old_mlflow_store.py`` run by the old release; what it wrote."""
    (tmp / "artifacts").mkdir()
    made = subprocess.run(
        [str(python), str(OLD_STORE_SCRIPT)],
        env={
            "PATH": os.environ["PATH"],
            "HOME": str(tmp),
            "OLD_STORE_URI": store_uri,
            "OLD_ARTIFACT_ROOT": str(tmp / "artifacts"),
            "OLD_AUTH_DB_URI": f"sqlite:///{tmp / 'basic_auth.db'}",
            "OLD_ADMIN_PASSWORD": passwords["admin"],
            "OLD_READER_PASSWORD": passwords["reader"],
        },
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp,
    )
    assert made.returncode == 0, made.stderr[-3000:]
    manifest: dict[str, Any] = json.loads(made.stdout.splitlines()[-1])
    assert manifest["mlflow_version"] == OLD_MLFLOW
    return manifest


# -- compose, localized ------------------------------------------------------------------------------------


def compose_services(dotenv: dict[str, str]) -> dict[str, Any]:
    return interpolate_tree(yaml.safe_load(COMPOSE_PATH.read_text()), dotenv)["services"]


def localized(store_uri: str, names: Names) -> str:
    """Compose's MLflow store URI (user mlflow at mysql:3306, database mlflow) on this machine's MariaDB."""
    url = make_url(store_uri)
    assert (url.host, url.port, url.username, url.database) == ("mysql", 3306, "mlflow", "mlflow"), store_uri
    local = url.set(host="127.0.0.1", username=names.mlflow_user, database=names.mlflow_db)
    return local.render_as_string(hide_password=False)


def upgraded(services: dict[str, Any], names: Names) -> None:
    """The one-shot run as compose types it (the image's ``python`` is the locked venv's), its URI localized.

    It succeeds, and the password is neither on its command line nor in its output.
    """
    step = services[STEP]
    command = [*step.get("entrypoint", []), *step["command"]]
    assert command[0] == "python", command
    store_uri = step["environment"]["MLFLOW_BACKEND_STORE_URI"]
    password = make_url(store_uri).password
    assert password and not any(password in word for word in command), "the password is on the command line"
    result = subprocess.run(
        [sys.executable, *command[1:]],
        env={
            "PATH": os.environ["PATH"],
            "HOME": os.environ.get("HOME", "/tmp"),
            "MLFLOW_BACKEND_STORE_URI": localized(store_uri, names),
        },
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert password not in output, "the step printed the database password"


# -- the database ------------------------------------------------------------------------------------------


def revision(store_uri: str) -> str:
    engine = create_engine(store_uri)
    try:
        with engine.connect() as connection:
            return str(connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one())
    finally:
        engine.dispose()


def contents(store_uri: str) -> tuple[dict[str, int], dict[str, object]]:
    """Every table's row count, and the schema."""
    engine = create_engine(store_uri)
    try:
        with engine.connect() as connection:
            counts = {
                table: int(connection.execute(text(f"SELECT COUNT(*) FROM `{table}`")).scalar_one())
                for table in inspect(engine).get_table_names()
            }
        return counts, schema_of(engine)
    finally:
        engine.dispose()


@pytest.fixture
def dotenv() -> dict[str, str]:
    """A .env: the example's values, fresh passwords (URL-safe, as .env.example asks)."""
    env = read_env_file(ENV_EXAMPLE_PATH)
    for key in ("MYSQL_MLFLOW_PASSWORD", "MLFLOW_ADMIN_PASSWORD", "MLFLOW_READER_PASSWORD"):
        env[key] = f"pw-{secrets.token_hex(10)}"
    return env


@pytest.fixture
def names(dotenv: dict[str, str]) -> Iterator[Names]:
    """mysql-init/ applied: an empty `mlflow` database and its user, under throw-away names."""
    with mysql_init_applied(mlflow_password=dotenv["MYSQL_MLFLOW_PASSWORD"]) as applied:
        yield applied


# -- the tests ---------------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.mariadb
@pytest.mark.timeout(1200)
def test_an_older_mlflow_store_is_upgraded_with_every_run_version_and_alias_kept(
    old_mlflow_python: Path,
    dotenv: dict[str, str],
    names: Names,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    services = compose_services(dotenv)
    store_uri = localized(services["mlflow"]["environment"]["MLFLOW_BACKEND_STORE_URI"], names)
    passwords = {"admin": dotenv["MLFLOW_ADMIN_PASSWORD"], "reader": dotenv["MLFLOW_READER_PASSWORD"]}
    old = make_old_store(old_mlflow_python, store_uri, tmp_path, passwords)
    store, auth = old["store"], old["auth"]
    assert (len(store["runs"]), len(store["versions"]), len(store["aliases"])) == (3, 3, 2)
    old_revision, (old_counts, _) = revision(store_uri), contents(store_uri)
    assert old_revision != HEAD

    upgraded(services, names)
    assert revision(store_uri) == HEAD
    counts, schema = contents(store_uri)
    assert {table: counts[table] for table in old_counts} == old_counts, "rows lost or added by the upgrade"

    # The server as compose starts it: basic-auth with the image's ini, its SQLite file the old release's.
    port = unused_port()
    auth_ini = tmp_path / "basic_auth.ini"
    auth_ini.write_text(
        (REPO_ROOT / "mlflow" / "basic_auth.ini").read_text().replace("/var/lib/mlflow", str(tmp_path))
    )
    command = mlflow_command(services["mlflow"], port, tmp_path / "mlflow-metrics")
    env = services["mlflow"]["environment"] | {
        "MLFLOW_BACKEND_STORE_URI": store_uri,
        "MLFLOW_AUTH_CONFIG_PATH": str(auth_ini),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "mlflow.log"
    server = Service("mlflow", command, f"{url}/health", port, env=env, log_path=log, start_timeout=300)
    with server:
        # The old admin signs in with the old password (the server's MLFLOW_AUTH_ADMIN_PASSWORD is not used).
        monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", auth["admin"])
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", passwords["admin"])
        client = MlflowClient(tracking_uri=url, registry_uri=url)

        served = {run.info.run_id: run for run in client.search_runs([store["experiment_id"]])}
        assert set(served) == {run["run_id"] for run in store["runs"]}
        for run in store["runs"]:
            data = served[run["run_id"]].data
            assert data.params == run["params"], run["name"]
            assert data.tags.items() >= run["tags"].items(), run["name"]
            for key, history in run["metrics"].items():
                logged = sorted((m.step, m.value) for m in client.get_metric_history(run["run_id"], key))
                assert logged == [tuple(point) for point in history], (run["name"], key)

        versions = {v.version: v for v in client.search_model_versions(f"name='{store['model']}'")}
        assert set(versions) == {v["version"] for v in store["versions"]}
        for version in store["versions"]:
            served_version = versions[version["version"]]
            assert (served_version.run_id, served_version.source) == (version["run_id"], version["source"])
            assert served_version.tags == version["tags"]
        assert client.get_registered_model(store["model"]).aliases == store["aliases"]
        for alias, version in store["aliases"].items():
            assert client.get_model_version_by_alias(store["model"], alias).version == version
        logged_model = client.get_logged_model(store["logged_model_id"])
        assert logged_model.source_run_id == store["runs"][0]["run_id"]

        # The basic-auth database: the reader signs in with its old password and keeps exactly its grants
        # (MLflow 3.17 moved grants into roles: checked by what the reader may do, not by their shape).
        reader = httpx.BasicAuth(auth["reader"], passwords["reader"])
        experiment = {"experiment_id": store["experiment_id"]}
        api = f"{url}/api/2.0/mlflow"
        assert httpx.get(f"{api}/experiments/get", params=experiment, auth=reader).status_code == 200
        model = {"name": store["model"]}
        assert httpx.get(f"{api}/registered-models/get", params=model, auth=reader).status_code == 200
        assert httpx.post(f"{api}/runs/create", json=experiment, auth=reader).status_code == 403
        assert httpx.get(f"{api}/experiments/get", params=experiment, auth=("nobody", "x")).status_code == 401

    # Every restart runs the step again: nothing changes.
    upgraded(services, names)
    assert revision(store_uri) == HEAD
    assert contents(store_uri) == (counts, schema)


@pytest.mark.slow
@pytest.mark.mariadb
@pytest.mark.timeout(600)
def test_the_upgrade_step_creates_an_empty_store_and_then_leaves_it_alone(
    dotenv: dict[str, str], names: Names
) -> None:
    """The first start: the `mlflow` database init.sql made is empty."""
    services = compose_services(dotenv)
    store_uri = localized(services[STEP]["environment"]["MLFLOW_BACKEND_STORE_URI"], names)
    upgraded(services, names)
    assert revision(store_uri) == HEAD
    # The locked MLflow opens it (and adds its Default experiment, as the server's first start does).
    assert [e.name for e in MlflowClient(tracking_uri=store_uri).search_experiments()] == ["Default"]
    created = contents(store_uri)
    upgraded(services, names)
    assert contents(store_uri) == created


# -- the wiring --------------------------------------------------------------------------------------------


def test_compose_upgrades_the_mlflow_store_before_the_server_starts() -> None:
    services = yaml.safe_load(COMPOSE_PATH.read_text())["services"]
    server, step = services["mlflow"], services[STEP]
    assert server["depends_on"][STEP] == {"condition": "service_completed_successfully"}
    assert step["depends_on"]["mysql"] == {"condition": "service_healthy"}
    assert step["restart"] == "no"
    assert step["image"] == server["image"] and step["build"] == server["build"], "the server's own MLflow"
    assert (
        step["environment"]["MLFLOW_BACKEND_STORE_URI"] == server["environment"]["MLFLOW_BACKEND_STORE_URI"]
    )
    assert "mlflow.db.upgrade" in step["command"][-1] and "MLFLOW_BACKEND_STORE_URI" in step["command"][-1]


def test_kubernetes_runs_the_same_upgrade_against_the_same_secret_before_the_server() -> None:
    deployment = next(
        doc
        for doc in yaml.safe_load_all(K8S_MLFLOW.read_text())
        if doc and doc["kind"] == "Deployment" and doc["metadata"]["name"] == "mlflow"
    )
    pod = deployment["spec"]["template"]["spec"]
    (init,) = pod["initContainers"]  # init containers finish before the server's container starts
    (server,) = pod["containers"]
    assert init["command"] == yaml.safe_load(COMPOSE_PATH.read_text())["services"][STEP]["command"]
    assert init["image"] == server["image"]

    def store_secret(container: dict[str, Any]) -> dict[str, Any]:
        (variable,) = [v for v in container["env"] if v["name"] == "MLFLOW_BACKEND_STORE_URI"]
        return variable["valueFrom"]

    assert (
        store_secret(init)
        == store_secret(server)
        == {"secretKeyRef": {"name": "mlflow-backend-store", "key": "uri"}}
    )
