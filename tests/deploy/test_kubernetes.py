"""Offline checks of deploy/kubernetes/: no cluster runs where the tests run.

The kustomize overlays are rendered by the real kustomize (the one built into `kubectl kustomize`), every
manifest is validated against the Kubernetes API schemas that the kubernetes-validate package ships
(strict: unknown fields fail), and the rules the deployment promises are read from the rendered objects:
probes, requests and limits, non-root, read-only root filesystem with writable paths on volumes, no secret
value anywhere (the Airflow chart's render is checked by the same rules in test_airflow_chart.py), and the
environment every service gets is compared with what covertype.settings.Settings reads and with what
docker-compose.yaml gives the same service.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pymysql
import pytest
import yaml
from kubernetes_validate import utils as k8s_validate

from covertype.cli import app as cli_app
from covertype.processes import unused_port
from covertype.settings import Settings
from support.backends import TcpService
from support.dockerfile import stage
from support.extras import extra_venv
from support.kubernetes import (
    DEPLOY,
    K8S_VERSIONS,
    OVERLAYS,
    airflow_chart,
    airflow_values,
    api_errors,
    containers,
    documented_secrets,
    find,
    kustomize,
    literal_secrets,
    pod_spec,
    rendered,
    secret_references,
    workloads,
)
from support.paths import REPO_ROOT

ROOT = REPO_ROOT
# The images built from this repository and the Dockerfile's targets building them (with the user 10001).
PROJECT_IMAGES = {"api-data": "data-api", "inference-api": "inference-api", "ui": "ui", "mlflow": "mlflow"}
# Variables a container gets that covertype's Settings does not read, and who reads them.
LIBRARY_VARIABLES = {
    "MLFLOW_TRACKING_USERNAME": "MLflow client (basic auth of the tracking server)",
    "MLFLOW_TRACKING_PASSWORD": "MLflow client (basic auth of the tracking server)",
    "SCIKIT_LEARN_DATA": "scikit-learn's download folder",
    "TMPDIR": "Python's tempfile",
    "HOME": "Streamlit's settings folder",
}
# Paths a program writes: each must lie on a writable volume when the root filesystem is read-only.
WRITABLE_PATH_VARIABLES = (
    "TMPDIR",
    "HOME",
    "COVERTYPE_DATA_DIR",
    "COVERTYPE_STATE_PATH",
    "SCIKIT_LEARN_DATA",
)


# --------------------------------------------------------------------------------------------------------
# Rendering and reading
# --------------------------------------------------------------------------------------------------------


def raw_manifests() -> list[Path]:
    """Every hand-written manifest (kustomization files and the Helm values are not Kubernetes objects)."""
    return sorted(
        path
        for path in DEPLOY.rglob("*.yaml")
        if path.name != "kustomization.yaml"
        # The Helm values are no object; the monitoring objects are CRDs (tests/deploy/test_monitoring.py).
        and not {"airflow", "monitoring"} & set(path.relative_to(DEPLOY).parts)
    )


def container_env(container: dict[str, Any], docs: tuple[dict[str, Any], ...]) -> dict[str, Any]:
    """Every variable the container gets: ConfigMap keys through envFrom (resolved), then env entries."""
    env: dict[str, Any] = {}
    for source in container.get("envFrom", []):
        assert "configMapRef" in source, f"{container['name']}: envFrom only from ConfigMaps, got {source}"
        env.update(find(docs, "ConfigMap", source["configMapRef"]["name"])["data"])
    for entry in container.get("env", []):
        env[entry["name"]] = entry.get("value", entry.get("valueFrom"))
    return env


def airflow_env(docs: tuple[dict[str, Any], ...]) -> dict[str, Any]:
    """The covertype variables every Airflow container gets from the chart values."""
    values = airflow_values()
    env: dict[str, Any] = {}
    for source in yaml.safe_load(values["extraEnvFrom"]):
        env.update(find(docs, "ConfigMap", source["configMapRef"]["name"])["data"])
    for item in values["secret"]:
        env[item["envName"]] = {"secretKeyRef": {"name": item["secretName"], "key": item["secretKey"]}}
    for item in values.get("env", []):
        env[item["name"]] = item["value"]
    return env


def settings_variable(field: str) -> str:
    return "MLFLOW_TRACKING_URI" if field == "mlflow_tracking_uri" else f"COVERTYPE_{field.upper()}"


SETTINGS_VARIABLES = {settings_variable(field): field for field in Settings.model_fields}


class ManifestSettings(Settings):
    """Settings from the given values only: the environment of the test run must not fill any gap."""

    @classmethod
    def settings_customise_sources(cls, settings_cls: type, init_settings: Any, **sources: Any) -> tuple:
        return (init_settings,)


def settings_from(env: dict[str, Any]) -> Settings:
    """The Settings a process reads from this environment (Secret-backed values stand in as placeholders)."""
    values = {}
    for name, value in env.items():
        if name not in SETTINGS_VARIABLES:
            continue
        if isinstance(value, dict):  # valueFrom: a secret the cluster provides
            value = "mysql+pymysql://user:placeholder@mysql:3306/covertype" if "DATABASE_URL" in name else "x"
        values[SETTINGS_VARIABLES[name]] = value
    return ManifestSettings(**values)


def compose_services() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yaml").read_text())["services"]


def covertype_variables(env: dict[str, Any]) -> set[str]:
    return {name for name in env if name in SETTINGS_VARIABLES}


# --------------------------------------------------------------------------------------------------------
# Schemas
# --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_rendered_overlay_is_valid_against_the_kubernetes_api(overlay: str, version: str) -> None:
    docs = rendered(overlay)
    kinds = {doc["kind"] for doc in docs}
    assert {"Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget", "Job"} <= kinds
    assert api_errors(docs, version) == []


@pytest.mark.parametrize("path", raw_manifests(), ids=lambda p: str(p.relative_to(DEPLOY)))
def test_every_manifest_file_is_valid_against_the_kubernetes_api(path: Path) -> None:
    docs = [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    assert docs, f"{path}: no object"
    for doc in docs:
        k8s_validate.validate(doc, K8S_VERSIONS[0], strict=True)


def test_strict_validation_rejects_a_misspelt_field() -> None:
    """The validation above can fail: a probe key with a typo is refused."""
    deployment = copy.deepcopy(find(rendered("prod"), "Deployment", "inference-api"))
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["periodSecond"] = 5
    with pytest.raises(k8s_validate.ValidationError):
        k8s_validate.validate(deployment, K8S_VERSIONS[0], strict=True)


def test_mysql_init_sql_is_the_compose_stacks() -> None:
    assert (DEPLOY / "base" / "mysql-init" / "init.sql").read_text() == (
        ROOT / "mysql-init" / "init.sql"
    ).read_text(), (
        "deploy/kubernetes/base/mysql-init/init.sql differs from mysql-init/init.sql: copy it again"
    )


# --------------------------------------------------------------------------------------------------------
# Rules every pod follows
# --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_pod_runs_as_non_root_with_a_read_only_root_filesystem(overlay: str) -> None:
    for workload in workloads(rendered(overlay)):
        name = f"{workload['kind']} {workload['metadata']['name']}"
        pod = pod_spec(workload)
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["runAsUser"] > 0, name
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert pod.get("automountServiceAccountToken") is False, f"{name}: needs no API token"
        for container in containers(workload):
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, f"{name}/{container['name']}"
            assert context["allowPrivilegeEscalation"] is False, f"{name}/{container['name']}"
            assert context["capabilities"] == {"drop": ["ALL"]}, f"{name}/{container['name']}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_path_a_program_writes_is_on_a_writable_volume(overlay: str) -> None:
    docs = rendered(overlay)
    for workload in workloads(docs):
        for container in containers(workload):
            writable = [m["mountPath"] for m in container.get("volumeMounts", []) if not m.get("readOnly")]
            assert "/tmp" in writable, f"{workload['metadata']['name']}: /tmp must be an emptyDir"
            env = container_env(container, docs)
            for variable in WRITABLE_PATH_VARIABLES:
                if variable in env:
                    path = env[variable]
                    assert any(path == m or path.startswith(m.rstrip("/") + "/") for m in writable), (
                        f"{workload['metadata']['name']}: {variable}={path} is on the read-only root"
                    )


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_has_requests_and_limits(overlay: str) -> None:
    for workload in workloads(rendered(overlay)):
        for container in containers(workload):
            resources_ = container["resources"]
            for bound in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(resources_[bound]), (
                    f"{workload['metadata']['name']}/{container['name']}: {bound} without cpu and memory"
                )


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_long_running_container_has_readiness_and_liveness_probes(overlay: str) -> None:
    for workload in workloads(rendered(overlay)):
        if workload["kind"] == "Job":
            continue
        for container in pod_spec(workload)["containers"]:
            assert "readinessProbe" in container, workload["metadata"]["name"]
            assert "livenessProbe" in container, workload["metadata"]["name"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_inference_api_is_ready_on_ready_alive_on_health_and_autoscaled(overlay: str) -> None:
    docs = rendered(overlay)
    deployment = find(docs, "Deployment", "inference-api")
    (container,) = pod_spec(deployment)["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"

    hpa = find(docs, "HorizontalPodAutoscaler", "inference-api")
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "inference-api",
    }
    (metric,) = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    assert deployment["spec"]["replicas"] == hpa["spec"]["minReplicas"]

    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    pdb = find(docs, "PodDisruptionBudget", "inference-api")
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert pdb["spec"]["minAvailable"] < hpa["spec"]["minReplicas"] or hpa["spec"]["minReplicas"] > 1, (
        "a budget that keeps every replica blocks node drains"
    )


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_data_api_is_a_single_writer_with_its_state_on_a_volume(overlay: str) -> None:
    docs = rendered(overlay)
    deployment = find(docs, "Deployment", "api-data")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}, "two pods must never share the SQLite file"
    (container,) = pod_spec(deployment)["containers"]
    state_dir = str(Path(container_env(container, docs)["COVERTYPE_STATE_PATH"]).parent)
    (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == state_dir]
    (volume,) = [v for v in pod_spec(deployment)["volumes"] if v["name"] == mount["name"]]
    claim = find(docs, "PersistentVolumeClaim", volume["persistentVolumeClaim"]["claimName"])
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_service_selects_pods_and_targets_a_named_port(overlay: str) -> None:
    docs = rendered(overlay)
    for service in (d for d in docs if d["kind"] == "Service" and d["spec"].get("type") != "ExternalName"):
        selector = service["spec"]["selector"]
        backing = [
            w
            for w in workloads(docs)
            if w["kind"] != "Job" and selector.items() <= w["spec"]["template"]["metadata"]["labels"].items()
        ]
        assert len(backing) == 1, f"Service {service['metadata']['name']} selects {len(backing)} workloads"
        ports = {p["name"] for c in pod_spec(backing[0])["containers"] for p in c.get("ports", [])}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in ports, f"Service {service['metadata']['name']}: {port['targetPort']}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_project_images_run_as_the_user_their_dockerfile_creates(overlay: str) -> None:
    for workload in workloads(rendered(overlay)):
        image = pod_spec(workload)["containers"][0]["image"]
        name = image.rsplit("/", 1)[-1].split(":")[0]
        if name in PROJECT_IMAGES:
            image_instructions = " ".join(stage(PROJECT_IMAGES[name]))
            uid = pod_spec(workload)["securityContext"]["runAsUser"]
            assert re.search(rf"--uid {uid}\b", image_instructions), f"{name}: the image has no user {uid}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_commands_are_cli_commands_listening_on_the_container_port(overlay: str) -> None:
    commands = {command.name or command.callback.__name__ for command in cli_app.registered_commands}
    for workload in workloads(rendered(overlay)):
        for container in pod_spec(workload)["containers"]:
            args = container.get("args", [])
            if args[:1] != ["covertype"]:
                continue
            assert args[1] in commands, f"{workload['metadata']['name']}: no `covertype {args[1]}` command"
            port = int(args[args.index("--port") + 1])
            assert port in {p["containerPort"] for p in container["ports"]}


# --------------------------------------------------------------------------------------------------------
# No secret in the manifests
# --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_no_secret_value_in_the_rendered_manifests(overlay: str) -> None:
    assert literal_secrets(rendered(overlay)) == []


def test_the_secret_check_finds_a_planted_password() -> None:
    docs = copy.deepcopy(list(rendered("prod")))
    container = pod_spec(find(tuple(docs), "Deployment", "mlflow"))["containers"][0]
    container["env"].append({"name": "MYSQL_PASSWORD", "value": "hunter2"})
    container["command"].append("--backend-store-uri=mysql+pymysql://mlflow:hunter2@mysql:3306/mlflow")
    find(tuple(docs), "ConfigMap", "covertype-store")["data"]["COVERTYPE_DATABASE_URL"] = "sqlite:///x"
    docs.append({"kind": "Secret", "metadata": {"name": "oops"}, "stringData": {"password": "hunter2"}})
    assert len(literal_secrets(docs)) == 4


def referenced_secrets() -> set[tuple[str, str | None]]:
    """Every (Secret, key) the manifests of both overlays, the monitoring objects and the Airflow chart's
    render read."""
    docs = [doc for overlay in OVERLAYS for doc in rendered(overlay)]
    references = secret_references([*docs, *airflow_chart()])
    for monitor in kustomize(DEPLOY / "monitoring"):
        for endpoint in monitor["spec"].get("endpoints", []):
            for ref in endpoint.get("basicAuth", {}).values():
                references.add((ref["name"], ref["key"]))
    return references


def test_every_secret_the_deployment_reads_is_created_by_the_readme() -> None:
    created = documented_secrets()
    missing = sorted(
        f"{name}/{key or '*'}"
        for name, key in referenced_secrets()
        if name not in created or (key is not None and key not in created[name])
    )
    assert missing == [], f"README 'Scaling out' creates no such Secret key: {missing}"


# --------------------------------------------------------------------------------------------------------
# The environment each service gets matches what the package reads
# --------------------------------------------------------------------------------------------------------


def service_environments(overlay: str) -> dict[str, dict[str, Any]]:
    docs = rendered(overlay)
    env = {
        name: container_env(pod_spec(find(docs, "Deployment", name))["containers"][0], docs)
        for name in ("api-data", "inference-api", "ui")
    }
    env["airflow"] = airflow_env(docs)
    return env


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_variable_a_service_gets_is_read_by_the_package_or_a_library(overlay: str) -> None:
    for service, env in service_environments(overlay).items():
        unknown = sorted(set(env) - set(SETTINGS_VARIABLES) - set(LIBRARY_VARIABLES))
        assert unknown == [], f"{service}: nothing reads {unknown} (misspelt setting?)"
        settings_from(env)  # every value has the type and range Settings accepts


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_service_gets_the_covertype_variables_compose_gives_it(overlay: str) -> None:
    compose = compose_services()
    pairs = {
        "api-data": "api-data",
        "inference-api": "inference-api",
        "ui": "ui",
        "airflow": "airflow-worker",
    }
    for service, env in service_environments(overlay).items():
        expected = covertype_variables(compose[pairs[service]].get("environment", {}))
        missing = sorted(expected - covertype_variables(env))
        assert missing == [], f"{service}: compose sets {missing}, the Kubernetes manifests do not"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_service_urls_in_the_settings_point_at_services_that_exist(overlay: str) -> None:
    docs = rendered(overlay)
    services = {
        d["metadata"]["name"]: {p["port"] for p in d["spec"]["ports"]} for d in docs if d["kind"] == "Service"
    }
    envs = service_environments(overlay)
    urls = [
        settings_from(envs["airflow"]).data_api_url,
        settings_from(envs["airflow"]).tracking_uri,
        settings_from(envs["inference-api"]).tracking_uri,
        settings_from(envs["ui"]).inference_api_url,
        settings_from(envs["ui"]).data_api_url,
        "http://" + settings_from(envs["airflow"]).minio_endpoint,
        settings_from(envs["airflow"]).pushgateway_url,
        find(docs, "ConfigMap", "mlflow-server")["data"]["MLFLOW_S3_ENDPOINT_URL"],
        find(docs, "ConfigMap", "covertype-setup")["data"]["MINIO_URL"],
    ]
    for url in urls:
        parts = urlsplit(url)
        assert parts.hostname in services, f"{url}: no Service {parts.hostname}"
        assert parts.port in services[parts.hostname], (
            f"{url}: Service {parts.hostname} has no port {parts.port}"
        )


def test_data_api_and_ingestion_share_one_schedule() -> None:
    envs = service_environments("prod")
    schedule = ("groups", "batches", "batch_interval", "sample_fraction", "seed")
    data_api, airflow = settings_from(envs["api-data"]), settings_from(envs["airflow"])
    assert [getattr(data_api, f) for f in schedule] == [getattr(airflow, f) for f in schedule]
    assert airflow.group <= data_api.groups


# --------------------------------------------------------------------------------------------------------
# The mysql-init Job's script, run for real
# --------------------------------------------------------------------------------------------------------

MYSQL_INIT_SCRIPT = DEPLOY / "base" / "mysql-init" / "apply.sh"
#: Quotes and a backslash: the script must pass any user password through intact.
TRICKY_PASSWORD = 'it\'s a \\ "test"'


@pytest.fixture(scope="module")
def private_mariadb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A MariaDB of its own on a free port (init.sql names fixed databases and users: never the shared one),
    with an admin account like a managed server's, reached over TCP as the Job reaches it."""
    for program in ("mariadbd", "mariadb-install-db", "mysql"):
        if shutil.which(program) is None:
            pytest.fail(f"{program} is needed to run the mysql-init script against a real server")
    home = tmp_path_factory.mktemp("mariadb")
    subprocess.run(
        [
            "mariadb-install-db",
            "--no-defaults",
            f"--datadir={home / 'data'}",
            "--user=root",
            "--skip-test-db",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    port = unused_port()
    command = [
        str(shutil.which("mariadbd")),
        "--no-defaults",
        f"--datadir={home / 'data'}",
        f"--socket={home / 'mysqld.sock'}",
        f"--pid-file={home / 'mysqld.pid'}",
        f"--port={port}",
        "--bind-address=127.0.0.1",
        "--skip-name-resolve",
        "--user=root",
    ]
    with TcpService("mariadb", command, f"tcp://127.0.0.1:{port}", port, log_path=home / "mysqld.log"):
        connection = pymysql.connect(unix_socket=str(home / "mysqld.sock"), user="root", autocommit=True)
        with connection:
            connection.cursor().execute("CREATE USER 'admin'@'%' IDENTIFIED BY 'admin-pw_1'")
            connection.cursor().execute("GRANT ALL PRIVILEGES ON *.* TO 'admin'@'%' WITH GRANT OPTION")
        yield {
            "MYSQL_HOST": "127.0.0.1",
            "MYSQL_PORT": str(port),
            "MYSQL_ADMIN_USER": "admin",
            "MYSQL_ADMIN_PASSWORD": "admin-pw_1",
            "MYSQL_COVERTYPE_PASSWORD": TRICKY_PASSWORD,
            "MYSQL_MLFLOW_PASSWORD": "mlflow-pw",
            "PATH": "/usr/bin:/bin",
            "TMPDIR": str(home),
        }


def run_mysql_init(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sh", str(MYSQL_INIT_SCRIPT)], env=env, capture_output=True, text=True, timeout=300, check=False
    )


@pytest.mark.slow
def test_mysql_init_script_sets_up_a_server_and_can_run_again(private_mariadb: dict[str, str]) -> None:
    for attempt in (1, 2):  # the Job may run again at every `kubectl apply -k`
        result = run_mysql_init(private_mariadb)
        assert result.returncode == 0, f"run {attempt}: {result.stderr}"
    assert not list(Path(private_mariadb["TMPDIR"]).glob("*.cnf")), "the admin option file is left behind"

    port = int(private_mariadb["MYSQL_PORT"])
    with pymysql.connect(
        host="127.0.0.1", port=port, user="covertype", password=TRICKY_PASSWORD, database="covertype"
    ) as connection:
        cursor = connection.cursor()
        cursor.execute("SELECT COUNT(*) FROM forest_cover_data")
        assert cursor.fetchone() == (0,)
        with pytest.raises(pymysql.err.OperationalError):  # rows only, no schema changes
            cursor.execute("DROP TABLE predictions")
    with pymysql.connect(
        host="127.0.0.1", port=port, user="mlflow", password="mlflow-pw", database="mlflow"
    ) as connection:
        connection.cursor().execute("CREATE TABLE experiments (id INT PRIMARY KEY)")  # MLflow migrates


@pytest.mark.slow
def test_mysql_init_script_says_which_server_did_not_answer(private_mariadb: dict[str, str]) -> None:
    env = {**private_mariadb, "MYSQL_PORT": str(unused_port()), "MYSQL_WAIT_SECONDS": "2"}
    result = run_mysql_init(env)
    assert result.returncode == 1
    assert result.stderr.strip() == f"mysql-init: 127.0.0.1:{env['MYSQL_PORT']} did not answer in 2 s"


def kubelet_env(container: dict[str, Any], docs: tuple[dict[str, Any], ...], secrets: dict[str, str]) -> dict:
    """The container's environment as the kubelet gives it, each Secret key (``name/key``) read from
    ``secrets``, as the test created them."""
    env = {}
    for name, value in container_env(container, docs).items():
        if isinstance(value, dict):
            reference = value["secretKeyRef"]
            value = secrets[f"{reference['name']}/{reference['key']}"]
        env[name] = value
    return env


@pytest.mark.slow
def test_the_mysql_init_job_migrates_a_store_an_older_release_made_and_can_run_again(
    private_mariadb: dict[str, str], tmp_path: Path
) -> None:
    """The Job as rendered: init.sql, then its ``db-migrate`` container's command in a venv of the extra
    its image installs, with the Job's environment. The store lacks a table of this release and holds rows:
    the migration adds the table and keeps them; the Job's next run changes nothing."""
    docs = rendered("prod")
    job = pod_spec(find(docs, "Job", "mysql-init"))
    [init], [migrate] = job["initContainers"], job["containers"]
    inference_image = pod_spec(find(docs, "Deployment", "inference-api"))["containers"][0]["image"]
    assert (init["command"], migrate["image"]) == (["sh", "/sql/apply.sh"], inference_image)
    port = int(private_mariadb["MYSQL_PORT"])
    admin = {"host": "127.0.0.1", "port": port, "user": "admin", "password": "admin-pw_1", "autocommit": True}
    secrets = {"covertype-migration/url": f"mysql+pymysql://admin:admin-pw_1@127.0.0.1:{port}/covertype"}
    bin_dir = extra_venv(tmp_path, "inference")
    command = [str(bin_dir / migrate["command"][0]), *migrate["command"][1:]]
    env = kubelet_env(migrate, docs, secrets) | {"PATH": f"{bin_dir}:/usr/bin:/bin"}

    assert run_mysql_init(private_mariadb).returncode == 0
    with pymysql.connect(**admin, database="covertype") as connection:  # as the release before made it
        cursor = connection.cursor()
        cursor.execute("DROP TABLE IF EXISTS batch_quality")
        cursor.execute("DROP TABLE IF EXISTS alembic_version")
        cursor.execute(
            "INSERT INTO forest_cover_rejected (run_id, group_number, `row_number`, payload, reason,"
            " row_hash, rejected_at)"
            " VALUES ('r1', 1, 7, '{}', 'Elevation: not a number', 'h1', '2026-11-01 10:00:00')"
        )

    answers = []
    for _ in range(2):  # the first run of the new release's Job, then the next `kubectl apply -k`
        assert run_mysql_init(private_mariadb).returncode == 0
        result = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr
        answers.append(json.loads(result.stdout))

    assert [answer["stamped_baseline"] for answer in answers] == [True, False]
    assert answers[0]["after"] == answers[1]["before"] == answers[1]["after"] is not None
    assert "admin-pw_1" not in json.dumps(answers)
    with pymysql.connect(**admin, database="covertype") as connection:
        cursor = connection.cursor()
        cursor.execute("SELECT run_id, `row_number`, reason FROM forest_cover_rejected")
        assert cursor.fetchall() == (("r1", 7, "Elevation: not a number"),)
        cursor.execute("SELECT COUNT(*) FROM batch_quality")
        assert cursor.fetchone() == (0,)
