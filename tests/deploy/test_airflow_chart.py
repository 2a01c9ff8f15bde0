"""The official Airflow chart (release 1.21.0, vendored) rendered by the real helm with
deploy/kubernetes/airflow/values.yaml, and the rendered objects held to the rules of deploy/kubernetes:
the chart's values schema accepts the values, every container has requests and limits, no pod runs as
root, every probe the chart offers is on, no secret value is rendered, and the FAB users are created from
Secrets. The render happens once per session (support.kubernetes.airflow_chart); helm comes from
../shared/tools/get-helm, and its absence fails the tests."""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import tarfile
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

import support.kubernetes as k8s
from support.compose import string_values
from support.dockerfile import stage
from support.kubernetes import (
    AIRFLOW_CHART,
    DEPLOY,
    K8S_VERSIONS,
    airflow_chart,
    airflow_values,
    api_errors,
    containers,
    find,
    helm_template,
    kustomize,
    literal_secrets,
    pod_labels,
    pod_spec,
    rendered,
    workloads,
)
from support.paths import REPO_ROOT

#: Custom resources of the render whose schemas kubernetes-validate does not ship (KEDA's CRD).
CUSTOM_KINDS = {"ScaledObject"}
#: The values section of each long-running component of the chart (the `component` label of its pods).
COMPONENT_VALUES = {
    "scheduler": ("scheduler",),
    "triggerer": ("triggerer",),
    "dag-processor": ("dagProcessor",),
    "api-server": ("apiServer",),
    "worker": ("workers", "celery"),
    "redis": ("redis",),
}
FAB_AUTH_MANAGER = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"
#: The users createUserJob creates: FAB role, and the Secret of their name and password.
FAB_USERS = {"Admin": "airflow-admin", "User": "airflow-operator", "Viewer": "airflow-viewer"}


@cache
def chart_schema() -> dict[str, Any]:
    """The vendored chart's own values.schema.json."""
    with tarfile.open(AIRFLOW_CHART) as archive:
        member = archive.extractfile("airflow/values.schema.json")
        assert member is not None
        return json.load(member)


def schema_section(path: tuple[str, ...]) -> dict[str, Any]:
    """The schema of a values section, `$ref`s into the schema's definitions followed."""
    schema = chart_schema()
    node = schema
    for key in path:
        node = node["properties"][key]
        while "$ref" in node:
            node = schema["definitions"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def probes_offered(path: tuple[str, ...]) -> set[str]:
    return {key for key in schema_section(path)["properties"] if key.endswith("Probe")}


def long_running(docs: tuple[dict[str, Any], ...]) -> list[dict[str, Any]]:
    return [w for w in workloads(docs) if w["kind"] != "Job"]


def with_values(tmp_path: Path, change: dict[str, Any]) -> Path:
    """A copy of the values with `change` merged in at the top level, as a file helm can read."""
    values = {**airflow_values(), **change}
    path = tmp_path / "values.yaml"
    path.write_text(yaml.safe_dump(values))
    return path


# --------------------------------------------------------------------------------------------------------
# The render itself
# --------------------------------------------------------------------------------------------------------


def test_the_chart_renders_the_values_with_its_schema_checked() -> None:
    kinds = {doc["kind"] for doc in airflow_chart()}
    assert {"Deployment", "StatefulSet", "Job", "ScaledObject", "ConfigMap", "Service"} <= kinds
    components = {pod_labels(w)["component"] for w in long_running(airflow_chart())}
    assert components == set(COMPONENT_VALUES), "a component appeared or went: update COMPONENT_VALUES"


def test_the_chart_schema_refuses_a_key_upstream_removed(tmp_path: Path) -> None:
    """The render above can fail: the key that broke the README's install since chart 1.19 is refused."""
    api_server = {**airflow_values()["apiServer"], "defaultUser": {"enabled": False}}
    result = helm_template(with_values(tmp_path, {"apiServer": api_server}))
    assert result.returncode != 0
    assert "apiServer: Additional property defaultUser is not allowed" in result.stderr


def test_a_missing_helm_fails_with_its_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Without ../shared/tools/get-helm the chart tests fail, naming it: CI has it, nothing is skipped."""
    monkeypatch.setattr(k8s, "GET_HELM", tmp_path / "get-helm")
    with pytest.raises(pytest.fail.Exception, match=re.escape(str(tmp_path / "get-helm"))):
        k8s.helm.__wrapped__()


def test_the_values_use_the_current_keys_only() -> None:
    """`workers.*` is deprecated since 1.21 (`workers.celery.*`); the webserver's user is createUserJob's."""
    values = airflow_values()
    assert set(values["workers"]) == {"celery"}
    assert "webserver" not in values
    assert "defaultUser" not in values["createUserJob"], "its password would be a literal"


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_the_render_is_valid_against_the_kubernetes_api(version: str) -> None:
    docs = [doc for doc in airflow_chart() if doc["kind"] not in CUSTOM_KINDS]
    assert api_errors(docs, version) == []


def test_airflow_version_and_image_are_the_images_built_here() -> None:
    """The chart's appVersion is 3.2.1; the image is the Dockerfile's, and the chart is told so."""
    values = airflow_values()
    image_version = re.search(r"FROM apache/airflow:(\d+\.\d+\.\d+)", " ".join(stage("airflow"))).group(1)
    assert values["airflowVersion"] == image_version, "the chart's airflowVersion must be the image's"
    assert (values["defaultAirflowRepository"], values["defaultAirflowTag"]) == (
        values["images"]["airflow"]["repository"],
        values["images"]["airflow"]["tag"],
    ), "the migration Job and the components must run the same image"
    expected = f"{values['images']['airflow']['repository']}:{values['images']['airflow']['tag']}"
    for workload in workloads(airflow_chart()):
        if pod_labels(workload)["component"] != "redis":
            assert {c["image"] for c in containers(workload)} == {expected}, workload["metadata"]["name"]


def test_airflow_runs_celery_with_keda_baked_dags_and_an_external_database() -> None:
    docs = airflow_chart()
    config = find(docs, "ConfigMap", "airflow-config")["data"]["airflow.cfg"]
    assert re.search(r"^executor = CeleryExecutor$", config, re.MULTILINE)
    scaled = find(docs, "ScaledObject", "airflow-worker")["spec"]
    assert scaled["scaleTargetRef"]["name"] == "airflow-worker"
    assert 1 <= scaled["minReplicaCount"] < scaled["maxReplicaCount"]
    # KEDA sizes the pool by queued + running tasks over the concurrency the workers really use.
    concurrency = airflow_values()["config"]["celery"]["worker_concurrency"]
    assert f"/ {concurrency})" in scaled["triggers"][0]["metadata"]["query"]
    assert re.search(rf"^worker_concurrency = {concurrency}$", config, re.MULTILINE)
    kinds_and_names = {(d["kind"], d["metadata"]["name"]) for d in docs}
    assert not {name for kind, name in kinds_and_names if "postgresql" in name or "pgbouncer" in name}
    assert not any("git-sync" in c["name"] for w in workloads(docs) for c in containers(w))
    for workload in workloads(docs):
        for container in containers(workload):
            env = {e["name"]: e.get("valueFrom") for e in container.get("env", [])}
            if "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN" in env:
                assert (
                    env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]["secretKeyRef"]["name"] == "airflow-metadata"
                )


def test_airflow_reads_the_configmaps_of_the_base() -> None:
    names = {d["metadata"]["name"] for d in kustomize(DEPLOY / "base") if d["kind"] == "ConfigMap"}
    for workload in workloads(airflow_chart()):
        for container in containers(workload):
            for source in container.get("envFrom", []):
                assert source["configMapRef"]["name"] in names, workload["metadata"]["name"]


# --------------------------------------------------------------------------------------------------------
# The rules of deploy/kubernetes, on the render
# --------------------------------------------------------------------------------------------------------


def test_every_chart_container_has_requests_and_limits() -> None:
    checked = []
    for workload in workloads(airflow_chart()):
        for container in containers(workload):
            where = f"{workload['metadata']['name']}/{container['name']}"
            for bound in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(container.get("resources", {}).get(bound, {})), (
                    f"{where}: {bound} without cpu and memory"
                )
            checked.append(container["name"])
    # Init containers, sidecars and the Jobs' containers are among them.
    assert {"wait-for-airflow-migrations", "worker-log-groomer", "create-user", "redis"} <= set(checked)


def test_no_chart_pod_runs_as_root_redis_included() -> None:
    names = []
    for workload in workloads(airflow_chart()):
        name = workload["metadata"]["name"]
        pod = pod_spec(workload)["securityContext"]
        assert pod["runAsNonRoot"] is True and pod["runAsUser"] > 0, name
        assert pod["seccompProfile"] == {"type": "RuntimeDefault"}, name
        for container in containers(workload):
            context = container["securityContext"]
            assert context.get("runAsUser", pod["runAsUser"]) > 0, f"{name}/{container['name']}"
            assert context["allowPrivilegeEscalation"] is False, f"{name}/{container['name']}"
            assert context["capabilities"] == {"drop": ["ALL"]}, f"{name}/{container['name']}"
        names.append(name)
    assert "airflow-redis" in names


def test_every_probe_the_chart_offers_is_on() -> None:
    """The probes a component's values section offers (the chart's schema says which) are all rendered;
    Redis and the log groomer sidecars are offered none by the chart."""
    for workload in long_running(airflow_chart()):
        component = pod_labels(workload)["component"]
        offered = probes_offered(COMPONENT_VALUES[component])
        (main,) = [c for c in pod_spec(workload)["containers"] if c["name"] == component]
        assert offered <= set(main), f"{component}: {sorted(offered - set(main))} not rendered"
        if component != "redis":
            assert "livenessProbe" in offered, component
    assert probes_offered(("scheduler", "logGroomerSidecar")) == set() == probes_offered(("redis",))
    assert probes_offered(("apiServer",)) == {"livenessProbe", "readinessProbe", "startupProbe"}


def test_no_secret_value_in_the_chart_render() -> None:
    """No Secret object at all: the chart generates Secrets (fernet key, api secret key, JWT secret,
    metadata and broker connections, Redis password) only for what the values leave unnamed."""
    assert literal_secrets(airflow_chart()) == []


def test_the_secret_check_finds_a_password_the_chart_generates(tmp_path: Path) -> None:
    """Leaving the Redis password unnamed makes the chart render Secrets, which the check refuses."""
    redis = {**airflow_values()["redis"], "passwordSecretName": None}
    data = {**airflow_values()["data"], "brokerUrlSecretName": None}
    result = helm_template(with_values(tmp_path, {"redis": redis, "data": data}))
    assert result.returncode == 0, result.stderr
    problems = literal_secrets([doc for doc in yaml.safe_load_all(result.stdout) if doc])
    assert {"Secret airflow-redis-password", "Secret airflow-broker-url"} <= {
        p.split(":")[0] for p in problems
    }


def test_no_secret_value_in_the_airflow_values() -> None:
    values = airflow_values()
    assert [text for text in string_values(values) if k8s.CREDENTIALS_IN_URL.search(text)] == []
    for key in ("fernetKey", "jwtSecret", "apiSecretKey", "webserverSecretKey"):
        assert key not in values, f"{key}: name a Secret ({key}SecretName) instead"
    assert {"metadataConnection", "brokerUrl"}.isdisjoint(values["data"])
    assert "password" not in values["redis"]
    for item in values.get("env", []):
        assert not k8s.SECRET_NAME.search(item["name"]), item["name"]
    for section, options in values["config"].items():
        for option in options:
            # A path to a file mounted from a Secret, or Airflow's _cmd/_secret indirections, is no secret.
            if not option.endswith(("_file", "_cmd", "_secret")):
                assert not k8s.SECRET_NAME.search(option.upper()), f"config.{section}.{option}"


# --------------------------------------------------------------------------------------------------------
# FAB auth manager and its users
# --------------------------------------------------------------------------------------------------------


def test_the_fab_auth_manager_is_configured_and_installed() -> None:
    config = find(airflow_chart(), "ConfigMap", "airflow-config")["data"]["airflow.cfg"]
    assert re.search(rf"^auth_manager = {re.escape(FAB_AUTH_MANAGER)}$", config, re.MULTILINE)
    module, _, name = FAB_AUTH_MANAGER.rpartition(".")
    assert hasattr(importlib.import_module(module), name), f"{FAB_AUTH_MANAGER}: not in the locked provider"
    # The image installs the airflow-celery extra, which brings the FAB provider.
    assert "--extra airflow-celery" in " ".join(stage("airflow"))
    extra = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert any(r.startswith("apache-airflow-providers-fab") for r in extra["airflow-celery"])


def create_user_job_env() -> dict[str, dict[str, str]]:
    (container,) = pod_spec(find(airflow_chart(), "Job", "airflow-create-user"))["containers"]
    return {
        e["name"]: e["valueFrom"]["secretKeyRef"]
        for e in container["env"]
        if re.fullmatch(r"AIRFLOW_[A-Z]+_(USER|PASSWORD)", e["name"])
    }


def test_the_create_user_job_creates_each_user_from_its_secret(tmp_path: Path) -> None:
    """The Job's own args run with a stand-in `airflow` that records its arguments, the environment as the
    kubelet gives it from the Secrets: three users, each with its role, name and password (quotes, spaces
    and a `$` pass intact), and no password on the rendered command line."""
    job = find(airflow_chart(), "Job", "airflow-create-user")
    (container,) = pod_spec(job)["containers"]
    assert not any("password" in arg.lower() and "$" not in arg for arg in container["args"])
    references = create_user_job_env()
    secrets = {
        f"{secret}/{key}": f'{secret}-{key} it\'s a "$HOME" test'
        for secret in FAB_USERS.values()
        for key in ("username", "password")
    }
    env = {name: secrets[f"{ref['name']}/{ref['key']}"] for name, ref in references.items()}
    record = tmp_path / "calls.jsonl"
    fake = tmp_path / "airflow"
    fake.write_text(
        "#!/usr/bin/env python3\nimport json, sys\n"
        f'open("{record}", "a").write(json.dumps(sys.argv[1:]) + "\\n")\n'
    )
    fake.chmod(0o755)
    result = subprocess.run(
        container["args"],
        env={**env, "PATH": f"{tmp_path}:/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    calls = [json.loads(line) for line in record.read_text().splitlines()]
    created = {}
    for argv in calls:
        assert argv[:2] == ["users", "create"]
        options = dict(zip(argv[2::2], argv[3::2], strict=True))
        created[options["--role"]] = (options["--username"], options["--password"])
    assert created == {
        role: (secrets[f"{secret}/username"], secrets[f"{secret}/password"])
        for role, secret in FAB_USERS.items()
    }


def test_the_web_ui_reads_airflow_as_the_viewer() -> None:
    viewer = {kind: ref for kind, ref in create_user_job_env().items() if kind.startswith("AIRFLOW_VIEWER_")}
    for overlay in k8s.OVERLAYS:
        (container,) = pod_spec(find(rendered(overlay), "Deployment", "ui"))["containers"]
        env = {e["name"]: e.get("valueFrom", {}).get("secretKeyRef") for e in container["env"]}
        assert env["COVERTYPE_AIRFLOW_USERNAME"] == viewer["AIRFLOW_VIEWER_USER"]
        assert env["COVERTYPE_AIRFLOW_PASSWORD"] == viewer["AIRFLOW_VIEWER_PASSWORD"]


def test_the_airflow_jobs_get_no_covertype_secret() -> None:
    """The user and migration Jobs run no covertype code: least privilege keeps its Secrets from them."""
    for name in ("airflow-create-user", "airflow-run-airflow-migrations"):
        (container,) = pod_spec(find(airflow_chart(), "Job", name))["containers"]
        read = {ref for ref, _ in k8s.secret_references([find(airflow_chart(), "Job", name)])}
        assert not container.get("envFrom"), name
        assert not {"covertype-database", "covertype-minio-service", "covertype-mlflow-training"} & read, name
