"""The Kubernetes monitoring objects (deploy/kubernetes/monitoring/): valid against prometheus-operator's
CRD schemas, scraping the Services of the base under the job names the alert rules use, and a
PrometheusRule that is the compose rule file, generated and checked with promtool."""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from support.paths import REPO_ROOT
from support.prometheus import PROMETHEUS_DIR, promtool

DEPLOY = REPO_ROOT / "deploy" / "kubernetes"
MONITORING = DEPLOY / "monitoring"
GENERATOR = REPO_ROOT / "scripts" / "prometheus_rule.py"
#: prometheus-operator v0.93.0's CRD schemas (v1), extracted by scripts/crd_schema.py.
SCHEMAS = {
    "ServiceMonitor": "monitoring.coreos.com_servicemonitors.v1.prometheus-operator-0.93.0.json",
    "PrometheusRule": "monitoring.coreos.com_prometheusrules.v1.prometheus-operator-0.93.0.json",
}


def kustomize(directory: Path) -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl (with its built-in kustomize) is needed to render the manifests"
    result = subprocess.run(
        [kubectl, "kustomize", str(directory)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@cache
def monitoring() -> tuple[dict[str, Any], ...]:
    return tuple(kustomize(MONITORING))


def strict(schema: Any) -> Any:  # noqa: ANN401 - any part of a schema
    """The schema refusing unknown fields, as the API server does under kubectl's strict field validation
    (the default): every object schema with properties and no other rule for extra keys gets
    ``additionalProperties: false``."""
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    tightened = {key: strict(value) for key, value in schema.items()}
    if (
        "properties" in schema
        and "additionalProperties" not in schema
        and not schema.get("x-kubernetes-preserve-unknown-fields")
    ):
        tightened["additionalProperties"] = False
    return tightened


@cache
def validator(kind: str) -> jsonschema.Draft7Validator:
    schema = json.loads((Path(__file__).parent / "crd_schemas" / SCHEMAS[kind]).read_text())
    return jsonschema.Draft7Validator(strict(schema))


def schema_errors(doc: dict[str, Any]) -> list[str]:
    return [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator(doc["kind"]).iter_errors(doc)
    ]


def test_the_monitoring_objects_are_valid_against_the_prometheus_operator_crds() -> None:
    docs = monitoring()
    assert sorted(doc["kind"] for doc in docs) == ["PrometheusRule"] + ["ServiceMonitor"] * 4
    for doc in docs:
        assert doc["apiVersion"] == "monitoring.coreos.com/v1"
        assert schema_errors(doc) == [], f"{doc['kind']} {doc['metadata']['name']}"


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("spec", "endpoints", 0, "honourLabels"), True),  # misspelt
        (("spec", "endpoints", 0, "scheme"), "ftp"),  # not one of the schemes
        (("spec", "endpoints", 0, "basicAuth"), {"username": "admin"}),  # a literal, not a Secret key
    ],
)
def test_the_schema_check_rejects_a_wrong_field(path: tuple[Any, ...], value: Any) -> None:  # noqa: ANN401
    monitor = copy.deepcopy(next(doc for doc in monitoring() if doc["kind"] == "ServiceMonitor"))
    target = monitor
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    assert schema_errors(monitor)


def test_service_monitors_scrape_every_service_the_alerts_watch_under_its_job_name() -> None:
    """The job label of a ServiceMonitor's targets is its Service's name: the alert's jobs, compose's jobs."""
    services = {
        doc["metadata"]["name"]: doc for doc in kustomize(DEPLOY / "base") if doc["kind"] == "Service"
    }
    scraped = set()
    for monitor in (doc for doc in monitoring() if doc["kind"] == "ServiceMonitor"):
        selector = monitor["spec"]["selector"]["matchLabels"]
        [name] = [n for n, s in services.items() if selector.items() <= s["metadata"]["labels"].items()]
        ports = {port["name"] for port in services[name]["spec"]["ports"]}
        assert all(endpoint["port"] in ports for endpoint in monitor["spec"]["endpoints"]), name
        scraped.add(name)
    [down] = [rule for rule in _rules() if rule["alert"] == "CovertypeServiceDown"]
    watched = set(re.search(r'job=~"([^"]+)"', down["expr"])[1].split("|"))
    compose_jobs = {
        job["job_name"]
        for job in yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())["scrape_configs"]
    }
    assert scraped == watched == compose_jobs


def _rules() -> list[dict[str, Any]]:
    return [
        rule
        for group in yaml.safe_load((PROMETHEUS_DIR / "alerts.yml").read_text())["groups"]
        for rule in group["rules"]
    ]


def _generator(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(GENERATOR), *map(str, args)], capture_output=True, text=True, check=False
    )


def test_the_prometheus_rule_is_generated_from_the_compose_rules() -> None:
    result = _generator("--check")
    assert result.returncode == 0, result.stderr


def test_the_generated_file_check_fails_when_the_rules_changed(tmp_path: Path) -> None:
    changed = tmp_path / "alerts.yml"
    changed.write_text((PROMETHEUS_DIR / "alerts.yml").read_text().replace("> 0.2", "> 0.3"))

    result = _generator("--check", "--alerts", changed)

    assert result.returncode == 1
    assert "prometheus-rule.yaml is not generated from" in result.stderr


def test_the_prometheus_rule_passes_promtool_and_the_alert_unit_tests(tmp_path: Path) -> None:
    """The rule contents Kubernetes loads, checked and unit-tested as compose's file is."""
    [rule] = [doc for doc in monitoring() if doc["kind"] == "PrometheusRule"]
    (tmp_path / "alerts.yml").write_text(yaml.safe_dump(rule["spec"]))
    shutil.copy(PROMETHEUS_DIR / "alerts.test.yml", tmp_path)

    for args in (("check", "rules", "alerts.yml"), ("test", "rules", "alerts.test.yml")):
        result = promtool(*args, cwd=tmp_path)
        assert result.returncode == 0, result.stdout + result.stderr
