"""Offline checks of deploy/kubernetes/: no cluster runs where the tests run.

The kustomize overlays are rendered by the real kustomize (the one built into `kubectl kustomize`), every
manifest is validated against the Kubernetes API schemas that the kubernetes-validate package ships
(strict: unknown fields fail), and the rules the deployment promises are read from the rendered objects:
probes, requests and limits, non-root, read-only root filesystem with writable paths on volumes, no secret
value anywhere. The Airflow chart's values are validated against the chart keys they use
(deploy/kubernetes/airflow/chart-keys.schema.yaml), and the environment every service gets is compared
with what covertype.settings.Settings reads and with what docker-compose.yaml gives the same service.
"""

from __future__ import annotations

import copy
import json
import re
import shlex
import shutil
import subprocess
import time
from collections.abc import Iterator
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pymysql
import pytest
import referencing
import yaml
from kubernetes_validate import utils as k8s_validate

from covertype.cli import app as cli_app
from covertype.settings import Settings
from support.dockerfile import stage
from support.extras import extra_venv
from support.paths import REPO_ROOT
from support.services import free_port

ROOT = REPO_ROOT
DEPLOY = ROOT / "deploy" / "kubernetes"
OVERLAYS = ("dev", "prod")
# The oldest Kubernetes minor still supported upstream when this was written, and the newest schema the
# package ships: the manifests must be valid for both.
K8S_VERSIONS = ("1.31", "1.37")
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "Job"}
# The images built from this repository and the Dockerfile's targets building them (with the user 10001).
PROJECT_IMAGES = {"api-data": "data-api", "inference-api": "inference-api", "ui": "ui", "mlflow": "mlflow"}
# Names that hold a secret when they appear as an environment variable or a ConfigMap key.
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|_KEY$|ACCESS_KEY|DATABASE_URL|BACKEND_STORE_URI|CONNECTION")
CREDENTIALS_IN_URL = re.compile(r"://[^/\s:@]+:[^/\s@]+@")
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
# The Secret keys the Airflow chart reads from the Secrets its values name (chart conventions).
CHART_SECRET_KEYS = {
    "metadataSecretName": "connection",
    "fernetKeySecretName": "fernet-key",
    "apiSecretKeySecretName": "api-secret-key",
    "jwtSecretName": "jwt-secret",
}


# --------------------------------------------------------------------------------------------------------
# Rendering and reading
# --------------------------------------------------------------------------------------------------------


def kustomize(directory: Path) -> list[dict[str, Any]]:
    """The objects `kubectl apply -k directory` would send, rendered by kubectl's built-in kustomize."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.fail("kubectl (with its built-in kustomize) is needed to render the overlays; install kubectl")
    result = subprocess.run(
        [kubectl, "kustomize", str(directory)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, f"kubectl kustomize {directory}: {result.stderr}"
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@cache
def rendered(overlay: str) -> tuple[dict[str, Any], ...]:
    return tuple(kustomize(DEPLOY / "overlays" / overlay))


@cache
def airflow_values() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "airflow" / "values.yaml").read_text())


def find(docs: tuple[dict[str, Any], ...], kind: str, name: str) -> dict[str, Any]:
    matches = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind} {name}, found {len(matches)}"
    return matches[0]


def workloads(docs: tuple[dict[str, Any], ...]) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] in WORKLOAD_KINDS]


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    return workload["spec"]["template"]["spec"]


def containers(workload: dict[str, Any]) -> list[dict[str, Any]]:
    spec = pod_spec(workload)
    return [*spec.get("initContainers", []), *spec["containers"]]


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
    for doc in docs:
        try:
            k8s_validate.validate(doc, version, strict=True)
        except k8s_validate.ValidationError as exc:
            pytest.fail(f"{overlay}: {doc['kind']} {doc['metadata']['name']}: {exc.caught.message}")


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


def strings(node: Any) -> list[str]:
    """Every string value in parsed YAML (comments may show the form of a URL; values may not)."""
    if isinstance(node, dict):
        return [text for value in node.values() for text in strings(value)]
    if isinstance(node, list):
        return [text for value in node for text in strings(value)]
    return [node] if isinstance(node, str) else []


def literal_secrets(docs: list[dict[str, Any]] | tuple[dict[str, Any], ...]) -> list[str]:
    """Where a manifest carries a secret value instead of a reference to a Secret."""
    problems = []
    for doc in docs:
        where = f"{doc['kind']} {doc['metadata']['name']}"
        if doc["kind"] == "Secret":
            problems.append(f"{where}: a Secret object (create it with kubectl create secret instead)")
        if doc["kind"] == "ConfigMap":
            for key, value in (doc.get("data") or {}).items():
                if SECRET_NAME.search(key.upper()) or CREDENTIALS_IN_URL.search(str(value)):
                    problems.append(f"{where}: {key} is a secret in a ConfigMap")
        if doc["kind"] in WORKLOAD_KINDS:
            for container in containers(doc):
                for entry in container.get("env", []):
                    if "value" in entry and (
                        SECRET_NAME.search(entry["name"]) or CREDENTIALS_IN_URL.search(entry["value"])
                    ):
                        problems.append(f"{where}/{container['name']}: {entry['name']} has a literal value")
                for arg in [*container.get("command", []), *container.get("args", [])]:
                    if CREDENTIALS_IN_URL.search(arg):
                        problems.append(f"{where}/{container['name']}: credentials on the command line")
    return problems


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


def test_no_secret_value_in_the_airflow_values() -> None:
    values = airflow_values()
    assert [text for text in strings(values) if CREDENTIALS_IN_URL.search(text)] == []
    for key in ("fernetKey", "jwtSecret", "apiSecretKey", "webserverSecretKey"):
        assert key not in values, f"{key}: name a Secret ({key}SecretName) instead"
    assert "metadataConnection" not in values["data"]
    for item in values.get("env", []):
        assert not SECRET_NAME.search(item["name"]), item["name"]
    for section, options in values["config"].items():
        for option in options:
            # A path to a file mounted from a Secret, or Airflow's _cmd/_secret indirections, is no secret.
            if not option.endswith(("_file", "_cmd", "_secret")):
                assert not SECRET_NAME.search(option.upper()), f"config.{section}.{option}"


def documented_secrets() -> dict[str, set[str]]:
    """The Secrets and keys README's `kubectl create secret generic` commands create."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Scaling out") :]
    lines = re.sub(r"\\\n\s*", " ", section).splitlines()  # continuation lines joined
    created: dict[str, set[str]] = {}
    for line in lines:
        if "create secret generic" in line:
            words = shlex.split(line)
            name = words[words.index("generic") + 1]
            keys = {w.split("=", 2)[1] for w in words if w.startswith(("--from-literal=", "--from-file="))}
            created.setdefault(name, set()).update(keys)
    return created


def referenced_secrets() -> set[tuple[str, str]]:
    """Every (Secret, key) the manifests of both overlays, the monitoring objects and the Airflow values
    read."""
    references = set()
    for overlay in OVERLAYS:
        for workload in workloads(rendered(overlay)):
            for container in containers(workload):
                for entry in container.get("env", []):
                    ref = entry.get("valueFrom", {}).get("secretKeyRef")
                    if ref:
                        references.add((ref["name"], ref["key"]))
            for volume in pod_spec(workload).get("volumes", []):
                if "secret" in volume:
                    for item in volume["secret"].get("items", []):
                        references.add((volume["secret"]["secretName"], item["key"]))
    for monitor in kustomize(DEPLOY / "monitoring"):
        for endpoint in monitor["spec"].get("endpoints", []):
            for ref in endpoint.get("basicAuth", {}).values():
                references.add((ref["name"], ref["key"]))
    values = airflow_values()
    references |= {(item["secretName"], item["secretKey"]) for item in values["secret"]}
    for value_key, secret_key in CHART_SECRET_KEYS.items():
        secret_name = values.get(value_key) or values["data"].get(value_key)
        assert secret_name, f"values.yaml: {value_key} is not set"
        references.add((secret_name, secret_key))
    for volume in values["apiServer"]["extraVolumes"]:
        if "secret" in volume:
            references.add((volume["secret"]["secretName"], "passwords.json"))
    return references


def test_every_secret_the_deployment_reads_is_created_by_the_readme() -> None:
    created = documented_secrets()
    missing = sorted(
        f"{name}/{key}" for name, key in referenced_secrets() if key not in created.get(name, set())
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
# The Airflow chart's values
# --------------------------------------------------------------------------------------------------------


@cache
def chart_keys_validator() -> jsonschema.Draft202012Validator:
    schema = yaml.safe_load((DEPLOY / "airflow" / "chart-keys.schema.yaml").read_text())
    directory = f"v{K8S_VERSIONS[-1]}.0-local-strict"
    definitions = json.loads(
        resources.files("kubernetes_validate")
        .joinpath("kubernetes-json-schema", directory, "_definitions.json")
        .read_text()
    )
    registry = referencing.Registry().with_resource(
        definitions["$id"], referencing.Resource.from_contents(definitions)
    )
    return jsonschema.Draft202012Validator(schema, registry=registry)


def chart_key_errors(values: dict[str, Any]) -> list[str]:
    return [
        f"{'.'.join(map(str, e.absolute_path))}: {e.message}"
        for e in chart_keys_validator().iter_errors(values)
    ]


def test_airflow_values_use_only_keys_the_chart_documents() -> None:
    assert chart_key_errors(airflow_values()) == []


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("workers", "keda", "enable"), True),  # misspelt key
        (("workers", "keda", "maxReplicaCount"), "8"),  # wrong type
        (("executor",), "celery"),  # not an executor class name
        (("workers", "resources", "requests", "cpu"), {"cores": 2}),  # not a Kubernetes quantity
        (("dags", "gitsync"), {"enabled": False}),  # wrong case
    ],
)
def test_the_chart_key_check_rejects_a_wrong_key_or_type(path: tuple[str, ...], value: Any) -> None:
    values = copy.deepcopy(airflow_values())
    node = values
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value
    assert chart_key_errors(values), f"{'.'.join(path)}={value!r} was accepted"


def test_airflow_runs_celery_with_keda_baked_dags_and_an_external_database() -> None:
    values = airflow_values()
    assert values["executor"] == "CeleryExecutor"
    keda = values["workers"]["keda"]
    assert keda["enabled"] is True and 0 <= keda["minReplicaCount"] < keda["maxReplicaCount"]
    assert values["dags"]["persistence"]["enabled"] is False and values["dags"]["gitSync"]["enabled"] is False
    assert values["postgresql"]["enabled"] is False and values["data"]["metadataSecretName"]
    assert values["airflowVersion"] == re.search(
        r"FROM apache/airflow:(\d+\.\d+\.\d+)", " ".join(stage("airflow"))
    ).group(1), "the chart's airflowVersion must be the image's"
    assert values["images"]["airflow"]["repository"].endswith("/airflow")
    # KEDA sizes the worker pool from this number: it must be the concurrency the workers really use.
    assert isinstance(values["config"]["celery"]["worker_concurrency"], int)


def test_airflow_reads_the_configmaps_of_the_base() -> None:
    base = kustomize(DEPLOY / "base")
    names = {d["metadata"]["name"] for d in base if d["kind"] == "ConfigMap"}
    for source in yaml.safe_load(airflow_values()["extraEnvFrom"]):
        assert source["configMapRef"]["name"] in names


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
    port = free_port()
    server = subprocess.Popen(
        [
            shutil.which("mariadbd"),
            "--no-defaults",
            f"--datadir={home / 'data'}",
            f"--socket={home / 'mysqld.sock'}",
            f"--pid-file={home / 'mysqld.pid'}",
            f"--port={port}",
            "--bind-address=127.0.0.1",
            "--skip-name-resolve",
            "--user=root",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(home / "mysqld.log").open("w"),
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                connection = pymysql.connect(
                    unix_socket=str(home / "mysqld.sock"), user="root", autocommit=True
                )
                break
            except pymysql.err.OperationalError:
                assert server.poll() is None, (home / "mysqld.log").read_text()
                assert time.monotonic() < deadline, "MariaDB did not start in 120 s"
                time.sleep(0.5)
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
    finally:
        server.terminate()
        server.wait(timeout=60)


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
    env = {**private_mariadb, "MYSQL_PORT": str(free_port()), "MYSQL_WAIT_SECONDS": "2"}
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
