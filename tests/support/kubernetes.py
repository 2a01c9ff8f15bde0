"""Rendering deploy/kubernetes/ offline and reading the rendered objects: the overlays with kubectl's built-in
kustomize, the Airflow release with the real chart (the vendored 1.21.0 tgz) and helm.

Shared by the tests of the manifests, of the chart's render and of the network policies."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes_validate import utils as k8s_validate

from support.paths import REPO_ROOT

DEPLOY = REPO_ROOT / "deploy" / "kubernetes"
OVERLAYS = ("dev", "prod")
AIRFLOW_VALUES = DEPLOY / "airflow" / "values.yaml"
#: The chart release the README pins, vendored beside the repository (no chart repository is reachable).
AIRFLOW_CHART_VERSION = "1.21.0"
AIRFLOW_CHART = REPO_ROOT.parent / "shared" / "vendor" / f"airflow-chart-{AIRFLOW_CHART_VERSION}.tgz"
GET_HELM = REPO_ROOT.parent / "shared" / "tools" / "get-helm"
#: The release name and namespace of README "Scaling out" (`helm install airflow ... --namespace covertype`).
AIRFLOW_RELEASE = "airflow"
NAMESPACE = "covertype"
# The oldest Kubernetes minor still supported upstream when this was written, and the newest schema the
# package ships: the manifests must be valid for both.
K8S_VERSIONS = ("1.31", "1.37")
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "Job"}
# Names that hold a secret when they appear as an environment variable or a ConfigMap key.
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|_KEY$|ACCESS_KEY|DATABASE_URL|BACKEND_STORE_URI|CONNECTION")
CREDENTIALS_IN_URL = re.compile(r"://[^/\s:@]+:[^/\s@]+@")

Docs = list[dict[str, Any]] | tuple[dict[str, Any], ...]


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
    return yaml.safe_load(AIRFLOW_VALUES.read_text())


@cache
def helm() -> str:
    """The helm binary ../shared/tools/get-helm provides (CI has it: a missing one is a failure, no skip)."""
    if not GET_HELM.is_file():
        pytest.fail(f"{GET_HELM} is missing: it provides the helm that renders the Airflow chart")
    result = subprocess.run([str(GET_HELM)], capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, f"{GET_HELM} failed: {result.stderr}"
    return result.stdout.strip()


def helm_template(values: Path) -> subprocess.CompletedProcess[str]:
    """`helm template` of the vendored chart with these values: the chart's values schema is checked too."""
    if not AIRFLOW_CHART.is_file():
        pytest.fail(f"{AIRFLOW_CHART} is missing: the Airflow chart {AIRFLOW_CHART_VERSION} the tests render")
    return subprocess.run(
        [
            helm(),
            "template",
            AIRFLOW_RELEASE,
            str(AIRFLOW_CHART),
            "--namespace",
            NAMESPACE,
            "--values",
            str(values),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@cache
def airflow_chart() -> tuple[dict[str, Any], ...]:
    """The objects `helm install` of README "Scaling out" creates, rendered once per test session."""
    result = helm_template(AIRFLOW_VALUES)
    assert result.returncode == 0, f"helm template with {AIRFLOW_VALUES}: {result.stderr}"
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


def find(docs: Docs, kind: str, name: str) -> dict[str, Any]:
    matches = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind} {name}, found {len(matches)}"
    return matches[0]


def workloads(docs: Docs) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] in WORKLOAD_KINDS]


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    return workload["spec"]["template"]["spec"]


def pod_labels(workload: dict[str, Any]) -> dict[str, str]:
    return workload["spec"]["template"]["metadata"]["labels"]


def containers(workload: dict[str, Any]) -> list[dict[str, Any]]:
    spec = pod_spec(workload)
    return [*spec.get("initContainers", []), *spec["containers"]]


def api_errors(docs: Docs, version: str) -> list[str]:
    """Each object that is not valid (strict: unknown fields fail) against this Kubernetes version's API."""
    errors = []
    for doc in docs:
        try:
            k8s_validate.validate(doc, version, strict=True)
        except k8s_validate.ValidationError as exc:
            errors.append(f"{doc['kind']} {doc['metadata']['name']}: {exc.caught.message}")
    return errors


def literal_secrets(docs: Docs) -> list[str]:
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


def secret_references(docs: Docs) -> set[tuple[str, str | None]]:
    """Every (Secret, key) the objects read: the workloads' env secretKeyRef, envFrom secretRef (key None:
    the whole Secret) and secret volumes (their items' keys, or None for the whole Secret), and the
    Ingresses' TLS certificates."""
    references: set[tuple[str, str | None]] = {
        (tls["secretName"], key)
        for doc in docs
        if doc["kind"] == "Ingress"
        for tls in doc["spec"].get("tls", [])
        for key in ("tls.crt", "tls.key")
    }
    for workload in workloads(docs):
        for container in containers(workload):
            for entry in container.get("env", []):
                ref = entry.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    references.add((ref["name"], ref["key"]))
            for source in container.get("envFrom", []):
                if "secretRef" in source:
                    references.add((source["secretRef"]["name"], None))
        for volume in pod_spec(workload).get("volumes", []):
            if "secret" in volume:
                items = volume["secret"].get("items") or [{"key": None}]
                references |= {(volume["secret"]["secretName"], item["key"]) for item in items}
    return references


def documented_secrets() -> dict[str, set[str]]:
    """The Secrets and keys README's `kubectl create secret generic` (and `tls`) commands create."""
    readme = (REPO_ROOT / "README.md").read_text()
    section = readme[readme.index("## Scaling out") :]
    lines = re.sub(r"\\\n\s*", " ", section).splitlines()  # continuation lines joined
    created: dict[str, set[str]] = {}
    for line in lines:
        if "create secret generic" in line:
            words = shlex.split(line)
            name = words[words.index("generic") + 1]
            keys = {w.split("=", 2)[1] for w in words if w.startswith(("--from-literal=", "--from-file="))}
            created.setdefault(name, set()).update(keys)
        elif "create secret tls" in line:
            words = shlex.split(line)
            created.setdefault(words[words.index("tls") + 1], set()).update({"tls.crt", "tls.key"})
    return created
