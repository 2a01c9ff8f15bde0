"""Static checks of the full stack (docker-compose.yaml, .env.example, the images it builds).

No Docker engine runs where the tests run, so the compose file is validated the way `docker compose config`
would read it: YAML with anchors and merge keys, `${VAR}` interpolation from `.env.example`, then the
properties the stack promises (every service present and built from files that exist, secrets required,
health checks on long-running services, pinned images, nothing that breaks `--scale`).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from support.compose import (
    BRACED,
    COMPOSE_PATH,
    ENV_EXAMPLE_PATH,
    SECRET_NAME,
    UNBRACED,
    MissingVariable,
    interpolate_tree,
    read_env_file,
    string_values,
)
from support.dockerfile import DOCKERFILE, TARGETS, stage
from support.paths import REPO_ROOT

ROOT = REPO_ROOT

EXPECTED_SERVICES = {
    "mysql",
    "minio",
    "minio-setup",
    "mlflow",
    "mlflow-setup",
    "mlflow-db-upgrade",
    "covertype-db-migrate",
    "api-data",
    "inference-api",
    "inference-lb",
    "ui",
    "airflow-postgres",
    "airflow-redis",
    "airflow-init",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
    "prometheus",
    "pushgateway",
}
ONE_SHOT_SERVICES = {
    "minio-setup",
    "mlflow-setup",
    "mlflow-db-upgrade",
    "airflow-init",
    "covertype-db-migrate",
}
SCALED_SERVICES = {"airflow-worker", "inference-api"}
AIRFLOW_SERVICES = {name for name in EXPECTED_SERVICES if name.startswith("airflow-")} - {
    "airflow-postgres",
    "airflow-redis",
}


@pytest.fixture(scope="module")
def env_example() -> dict[str, str]:
    return read_env_file(ENV_EXAMPLE_PATH)


@pytest.fixture(scope="module")
def raw_compose() -> dict[str, Any]:
    """The compose file before interpolation (variables still visible)."""
    return yaml.safe_load(COMPOSE_PATH.read_text())


@pytest.fixture(scope="module")
def compose(raw_compose: dict[str, Any], env_example: dict[str, str]) -> dict[str, Any]:
    """The compose file as docker compose sees it with `.env` copied from `.env.example`."""
    return interpolate_tree(raw_compose, env_example)


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def _references(raw_compose: dict[str, Any]) -> list[re.Match[str]]:
    """Every `${...}` and `$NAME` compose will interpolate (escaped `$$` left out)."""
    pieces = [piece for text in string_values(raw_compose) for piece in text.split("$$")]
    return [m for piece in pieces for m in (*BRACED.finditer(piece), *UNBRACED.finditer(piece))]


def _variables(raw_compose: dict[str, Any]) -> set[str]:
    return {match["name"] for match in _references(raw_compose)}


def _host_ports(service: dict[str, Any]) -> list[str]:
    """Host side ("port/protocol") of each published port, short or long syntax."""
    published = []
    for port in service.get("ports", []):
        if isinstance(port, dict):
            if "published" in port:
                published.append(f"{port['published']}/{port.get('protocol', 'tcp')}")
            continue
        spec, _, protocol = str(port).partition("/")
        parts = spec.split(":")
        if len(parts) >= 2:
            published.append(f"{parts[-2]}/{protocol or 'tcp'}")
    return published


def _builds(services: dict[str, dict[str, Any]]) -> dict[str, tuple[Path, str | None]]:
    """Per service built from this repository: its Dockerfile and target."""
    found = {}
    for name, service in services.items():
        build = service.get("build")
        if build is None:
            continue
        if isinstance(build, str):
            build = {"context": build}
        dockerfile = ROOT / build.get("context", ".") / build.get("dockerfile", "Dockerfile")
        found[name] = (dockerfile, build.get("target"))
    return found


# -- the file and its services --------------------------------------------------------------------------


def test_compose_declares_the_whole_stack(services: dict[str, dict[str, Any]]) -> None:
    assert set(services) == EXPECTED_SERVICES


def test_build_contexts_and_dockerfiles_exist(services: dict[str, dict[str, Any]]) -> None:
    for name, (dockerfile, target) in _builds(services).items():
        build = services[name]["build"]
        context = ROOT / (build if isinstance(build, str) else build.get("context", "."))
        assert context.is_dir(), f"{name}: build context {context} does not exist"
        assert dockerfile.is_file(), f"{name}: {dockerfile.relative_to(ROOT)} does not exist"
        if target is not None:
            assert stage(target), f"{name}: the Dockerfile has no target {target}"


def test_every_variable_is_defined_in_env_example(
    raw_compose: dict[str, Any], env_example: dict[str, str]
) -> None:
    missing = sorted(_variables(raw_compose) - set(env_example))
    assert not missing, f"used in docker-compose.yaml but not defined in .env.example: {missing}"


def test_env_example_defines_only_variables_the_stack_uses(
    raw_compose: dict[str, Any], env_example: dict[str, str]
) -> None:
    unused = sorted(set(env_example) - _variables(raw_compose))
    assert not unused, f"defined in .env.example but never used by docker-compose.yaml: {unused}"


def test_env_example_is_marked_as_development_defaults() -> None:
    header = ENV_EXAMPLE_PATH.read_text().splitlines()[:5]
    assert any("development defaults" in line.lower() and "change every password" in line for line in header)


def test_secrets_are_required_variables(raw_compose: dict[str, Any]) -> None:
    secrets = [match for match in _references(raw_compose) if SECRET_NAME.search(match["name"])]
    assert secrets
    for match in secrets:
        assert match["op"] == ":?", f"secret {match['name']} must be written ${{{match['name']}:?...}}"


def test_a_missing_secret_stops_compose(raw_compose: dict[str, Any], env_example: dict[str, str]) -> None:
    without_password = {k: v for k, v in env_example.items() if k != "MYSQL_ROOT_PASSWORD"}
    with pytest.raises(MissingVariable, match="MYSQL_ROOT_PASSWORD"):
        interpolate_tree(raw_compose, without_password)


def test_no_two_services_publish_the_same_host_port(services: dict[str, dict[str, Any]]) -> None:
    owners: dict[str, str] = {}
    for name, service in services.items():
        for port in _host_ports(service):
            assert port not in owners, f"host port {port} published by both {owners[port]} and {name}"
            owners[port] = name
    assert owners, "the stack publishes no port at all"


def test_long_running_services_have_healthchecks(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        if name in ONE_SHOT_SERVICES:
            assert service.get("restart") == "no", f"one-shot job {name} must not be restarted"
            continue
        test = service.get("healthcheck", {}).get("test")
        assert test and test != ["NONE"], f"{name} has no healthcheck"


def test_images_are_pinned(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        if "build" in service:
            continue
        image = service.get("image")
        assert image, f"{name} has neither image nor build"
        last_part = image.rsplit("/", 1)[-1]
        assert ":" in last_part or "@sha256:" in image, f"{name}: image {image} has no tag"
        assert not image.endswith(":latest"), f"{name}: image {image} is not pinned"


def test_dockerfiles_start_from_pinned_images(services: dict[str, dict[str, Any]]) -> None:
    for name, (dockerfile, _) in _builds(services).items():
        if not dockerfile.is_file():
            continue  # reported by test_build_contexts_and_dockerfiles_exist
        stages = set()
        for line in dockerfile.read_text().splitlines():
            words = line.split()
            if not words or words[0].upper() != "FROM":
                continue
            image = next(word for word in words[1:] if not word.startswith("--"))
            if image in stages:  # FROM an earlier stage of the same file
                continue
            if "AS" in (word.upper() for word in words):
                stages.add(words[-1])
            assert ":" in image.rsplit("/", 1)[-1], f"{name}: {dockerfile.name} uses untagged {image}"
            assert not image.endswith(":latest"), f"{name}: {dockerfile.name} uses {image}"


def test_scaled_services_have_no_fixed_name_or_host_port(services: dict[str, dict[str, Any]]) -> None:
    for name in SCALED_SERVICES:
        service = services[name]
        assert "container_name" not in service, f"{name} cannot be scaled with a container_name"
        assert not service.get("ports"), f"{name} cannot be scaled with host ports"


def test_depends_on_waits_for_health_or_completion(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        depends_on = service.get("depends_on", {})
        assert isinstance(depends_on, dict), f"{name}: depends_on must name a condition for each service"
        for target, spec in depends_on.items():
            assert target in services, f"{name} depends on unknown service {target}"
            condition = spec.get("condition")
            if target in ONE_SHOT_SERVICES:
                assert condition == "service_completed_successfully", f"{name} -> {target}: {condition}"
            else:
                assert condition == "service_healthy", f"{name} -> {target}: {condition}"
                assert "healthcheck" in services[target], f"{name} waits for {target}: no healthcheck"


def test_bind_mounts_exist_and_named_volumes_are_declared(
    raw_compose: dict[str, Any], compose: dict[str, Any]
) -> None:
    declared = set(compose.get("volumes") or {})
    for name, service in raw_compose["services"].items():
        for volume in service.get("volumes", []):
            source = str(volume).split(":", 1)[0]
            if source.startswith("${"):
                continue  # a host path the user chooses (documented in .env.example)
            if source.startswith((".", "/")):
                assert (ROOT / source).exists(), f"{name}: bind mount source {source} does not exist"
            else:
                assert source in declared, f"{name}: named volume {source} is not declared"


def test_mysql_runs_the_init_scripts(services: dict[str, dict[str, Any]]) -> None:
    mysql = services["mysql"]
    assert mysql["image"].startswith("mysql:8.")
    assert "./mysql-init:/docker-entrypoint-initdb.d:ro" in mysql["volumes"]
    assert (ROOT / "mysql-init" / "init.sql").is_file()


# -- what each part promises -----------------------------------------------------------------------------


def test_the_store_is_migrated_by_a_privileged_one_shot_job_before_anyone_uses_it(
    services: dict[str, dict[str, Any]],
) -> None:
    """The covertype user has no DDL rights: `covertype db upgrade` runs as root, once, before the users."""
    migrate = services["covertype-db-migrate"]
    assert migrate["entrypoint"] == ["covertype", "db", "upgrade"]
    assert migrate["image"] == "covertype-airflow:local"  # the image that installs the pipeline extra
    assert migrate["environment"] == {
        "COVERTYPE_MIGRATION_DATABASE_URL": "mysql+pymysql://root:dev-root-change-me@mysql:3306/covertype"
    }
    assert migrate["depends_on"] == {"mysql": {"condition": "service_healthy"}}
    assert migrate["restart"] == "no"
    for name, service in services.items():
        store_user = str(service.get("environment", {}).get("COVERTYPE_DATABASE_URL", ""))
        if store_user.startswith("mysql+pymysql://covertype:") and name not in ONE_SHOT_SERVICES:
            condition = service["depends_on"]["covertype-db-migrate"]["condition"]
            assert condition == "service_completed_successfully", name


def test_minio_setup_creates_the_buckets_idempotently(services: dict[str, dict[str, Any]]) -> None:
    script = "\n".join(services["minio-setup"]["command"])
    for bucket in ("mlflows3", "snapshots"):
        assert f"mc mb --ignore-existing local/{bucket}" in script


def test_mlflow_proxies_artifacts_from_minio(services: dict[str, dict[str, Any]]) -> None:
    mlflow = services["mlflow"]
    command = mlflow["command"]
    assert "--serve-artifacts" in command
    assert "--artifacts-destination=s3://mlflows3" in command
    assert mlflow["environment"]["MLFLOW_BACKEND_STORE_URI"].startswith("mysql+pymysql://mlflow:")
    assert any(arg.startswith("--allowed-hosts=") and arg.split("=", 1)[1] != "*" for arg in command)
    assert mlflow["environment"]["MLFLOW_S3_ENDPOINT_URL"] == "http://minio:9000"
    clients = [services[name]["environment"] for name in ("inference-api", "airflow-worker")]
    assert all(env["MLFLOW_TRACKING_URI"] == "http://mlflow:5000" for env in clients)
    assert "AWS_ACCESS_KEY_ID" not in services["inference-api"]["environment"]


def test_airflow_runs_celery_from_the_project_image(services: dict[str, dict[str, Any]]) -> None:
    commands = {services[name]["command"] for name in AIRFLOW_SERVICES - ONE_SHOT_SERVICES}
    assert commands == {"api-server", "scheduler", "dag-processor", "triggerer", "celery worker"}
    for name in AIRFLOW_SERVICES:
        service = services[name]
        assert service["build"]["target"] == "airflow", name
        assert service["image"] == "covertype-airflow:local", name
        env = service["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
        assert env["COVERTYPE_DATA_API_URL"] == "http://api-data:8000", name
        assert env["COVERTYPE_DATABASE_URL"].startswith("mysql+pymysql://covertype:"), name
        assert "DAGS_ARE_PAUSED_AT_CREATION" in " ".join(env), name


def test_airflow_image_installs_the_package_from_the_lock() -> None:
    dockerfile = "\n".join(stage("airflow"))
    assert "FROM apache/airflow:3.3.2-python3.11" in dockerfile
    assert "--frozen" in dockerfile and "--no-dev" in dockerfile
    assert "--extra pipeline" in dockerfile and "--extra airflow-celery" in dockerfile
    assert "COPY --chown=airflow:0 dags/ /opt/airflow/dags/" in dockerfile


def test_load_balancer_follows_the_inference_replicas(services: dict[str, dict[str, Any]]) -> None:
    conf = (ROOT / "nginx" / "inference-lb.conf").read_text()
    assert re.search(r"resolver 127\.0\.0\.11 valid=\d+s", conf)
    variable = re.search(r"set \$(\w+) http://inference-api:8001;", conf)
    assert variable, "the upstream must be a variable so nginx re-resolves the replicas"
    assert f"proxy_pass ${variable[1]};" in conf
    assert _host_ports(services["inference-lb"]) == ["8001/tcp"]


# -- issue 13: images that resolve, one Airflow image, secrets off command lines, auth, limits ----------


def _lock_version(package: str) -> str:
    lock = (ROOT / "uv.lock").read_text()
    found = re.search(rf'\n\[\[package\]\]\nname = "{re.escape(package)}"\nversion = "([^"]+)"', lock)
    assert found, f"{package} is not in uv.lock"
    return found[1]


def test_the_locked_celery_executor_loads(tmp_path: Path) -> None:
    """The executor and worker app compose's Airflow runs import with the locked versions (celery 5.7 broke
    the celery provider 3.26.0: caught here in seconds, not by the topology test in minutes)."""
    code = (
        "from airflow.providers.celery.executors.celery_executor import CeleryExecutor, app; print(app.main)"
    )
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path), "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor"}
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]


def test_minio_images_come_from_a_registry_that_still_serves_them(
    services: dict[str, dict[str, Any]],
) -> None:
    # minio/minio and minio/mc were removed from Docker Hub in 2026; quay.io serves the pinned tags.
    assert services["minio"]["image"].startswith("quay.io/minio/minio:RELEASE.")
    assert services["minio-setup"]["image"].startswith("quay.io/minio/mc:RELEASE.")


def test_every_image_is_a_target_of_the_one_dockerfile(services: dict[str, dict[str, Any]]) -> None:
    builds = _builds(services)
    assert {dockerfile for dockerfile, _ in builds.values()} == {DOCKERFILE}
    assert {target for _, target in builds.values()} == set(TARGETS)


def test_services_sharing_a_target_share_one_named_image(services: dict[str, dict[str, Any]]) -> None:
    """Compose then builds each image once, not once per service (six Airflow services, two MLflow ones)."""
    builds = _builds(services)
    images: dict[tuple[Path, str | None], set[str | None]] = {}
    for name, build in builds.items():
        images.setdefault(build, set()).add(services[name].get("image"))
    for build, names in images.items():
        shared = sum(1 for b in builds.values() if b == build) > 1
        if shared:
            assert len(names) == 1 and None not in names, f"target {build[1]}: {names}"


def test_one_airflow_image_matching_the_lock(raw_compose: dict[str, Any]) -> None:
    images = {raw_compose["services"][name].get("image") for name in AIRFLOW_SERVICES}
    assert images == {"covertype-airflow:local"}, "every Airflow service must run the one named image"
    base = re.search(r"^FROM apache/airflow:(\S+)-python3\.11 AS airflow$", stage("airflow")[0])
    assert base and base[1] == _lock_version("apache-airflow"), "image and uv.lock must agree on Airflow"
    for provider in ("celery", "postgres", "redis"):
        _lock_version(f"apache-airflow-providers-{provider}")


def test_no_secret_value_is_on_a_command_line(
    services: dict[str, dict[str, Any]], env_example: dict[str, str]
) -> None:
    """Command lines show in `ps` and `docker inspect`: secrets go through the environment."""
    secret_values = [value for key, value in env_example.items() if SECRET_NAME.search(key) and value]
    for name, service in services.items():
        for key in ("command", "entrypoint"):
            words = service.get(key) or []
            line = " ".join(words) if isinstance(words, list) else words
            leaked = [value for value in secret_values if value in line]
            assert not leaked, f"{name}: {key} holds a secret value"


def test_mlflow_runs_basic_auth_with_its_own_permissions_database(
    services: dict[str, dict[str, Any]],
) -> None:
    mlflow = services["mlflow"]
    assert "--app-name=basic-auth" in mlflow["command"]
    env = mlflow["environment"]
    assert env["MLFLOW_AUTH_ADMIN_PASSWORD"] and env["MLFLOW_FLASK_SERVER_SECRET_KEY"]
    assert env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] == "false"
    assert "mlflow-auth:/var/lib/mlflow" in mlflow["volumes"]
    ini = (ROOT / "mlflow" / "basic_auth.ini").read_text()
    assert re.search(r"^default_permission = NO_PERMISSIONS$", ini, re.M)
    # SQLite in the volume: MLflow's auth migrations fail on MySQL/MariaDB (duplicate fk_user_id).
    assert re.search(r"^database_uri = sqlite:////var/lib/mlflow/\S+$", ini, re.M)
    assert "COPY mlflow/basic_auth.ini /etc/mlflow/basic_auth.ini" in stage("mlflow")


def test_each_client_signs_in_to_mlflow_as_its_own_user(services: dict[str, dict[str, Any]]) -> None:
    setup = services["mlflow-setup"]["environment"]
    users = {
        role: setup[f"COVERTYPE_MLFLOW_{role.upper()}_USER"] for role in ("training", "operator", "reader")
    }
    assert len(set(users.values())) == 3
    expected = {"airflow-worker": "training", "inference-api": "reader", "ui": "operator"}
    expected |= {name: "training" for name in AIRFLOW_SERVICES}
    for name, role in expected.items():
        env = services[name]["environment"]
        assert env["MLFLOW_TRACKING_USERNAME"] == users[role], name
        assert env["MLFLOW_TRACKING_PASSWORD"] == setup[f"COVERTYPE_MLFLOW_{role.upper()}_PASSWORD"], name
    assert (
        setup["MLFLOW_TRACKING_USERNAME"] == services["mlflow"]["environment"]["MLFLOW_AUTH_ADMIN_USERNAME"]
    )
    for name in ("inference-api", "ui", "airflow-worker"):
        assert services[name]["depends_on"]["mlflow-setup"]["condition"] == "service_completed_successfully"


def test_the_mlflow_image_installs_its_server_from_the_lock() -> None:
    instructions = stage("build-mlflow") + stage("mlflow")
    assert not any("pip install" in line for line in instructions), "no dependency pinned outside uv.lock"
    syncs = [line for line in instructions if "uv sync" in line]
    assert len(syncs) == 2 and all("--locked" in s and "--extra mlflow-server" in s for s in syncs)
    assert "mlflow[auth]" in (ROOT / "pyproject.toml").read_text()


def test_every_service_has_a_memory_limit(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        memory = service.get("deploy", {}).get("resources", {}).get("limits", {}).get("memory")
        assert memory and re.fullmatch(r"\d+[mg]", memory), f"{name} has no memory limit"


def test_health_checks_ask_for_liveness_not_readiness(services: dict[str, dict[str, Any]]) -> None:
    """One rule: container health = liveness (/health); readiness (/ready) is for routing only."""
    for name, service in services.items():
        assert (
            "/ready" not in " ".join(service["healthcheck"]["test"]) if "healthcheck" in service else True
        ), name
    for target in TARGETS:
        healthchecks = [line for line in stage(target) if line.startswith("HEALTHCHECK")]
        assert all("/ready" not in line for line in healthchecks), target
    assert any("http://127.0.0.1:8001/health" in line for line in stage("inference-api"))
