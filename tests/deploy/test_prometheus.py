"""The alert rules and the compose scrape config (deploy/prometheus/), checked with Debian's promtool and
Prometheus: rule unit tests that fail when a rule is broken, the compose wiring, and a real server that
scrapes the data API and the Pushgateway and fires an alert from a real push."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from covertype.processes import unused_port
from covertype.pushgateway import push_training_outcome
from covertype.settings import Settings
from support.compose import COMPOSE_PATH, ENV_EXAMPLE_PATH, SECRET_NAME, interpolate_tree, read_env_file
from support.data_api import data_api_server, data_api_settings
from support.prometheus import (
    EXPECTED_ALERTS,
    PROMETHEUS_DIR,
    SCRAPE_CONFIG,
    localized_config,
    prometheus,
    promtool,
    pushgateway,
    query,
    wait_for_targets,
)

ALERTS = PROMETHEUS_DIR / "alerts.yml"
ALERT_TESTS = PROMETHEUS_DIR / "alerts.test.yml"


def _rules() -> list[dict[str, Any]]:
    return [rule for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"]]


def _scrape_jobs() -> dict[str, dict[str, Any]]:
    return {job["job_name"]: job for job in yaml.safe_load(SCRAPE_CONFIG.read_text())["scrape_configs"]}


def _passes(result: Any) -> None:  # noqa: ANN401 - a CompletedProcess
    assert result.returncode == 0, result.stdout + result.stderr


# -- promtool ---------------------------------------------------------------------------------------------


def test_the_rules_and_the_compose_scrape_config_pass_promtool() -> None:
    _passes(promtool("check", "rules", ALERTS))
    _passes(promtool("check", "config", SCRAPE_CONFIG))  # also checks the rule files it loads
    _passes(promtool("test", "rules", ALERT_TESTS))


def test_every_alert_has_a_unit_test_that_fires_it_and_one_that_keeps_it_quiet() -> None:
    assert {rule["alert"] for rule in _rules()} == EXPECTED_ALERTS
    cases = [
        case for test in yaml.safe_load(ALERT_TESTS.read_text())["tests"] for case in test["alert_rule_test"]
    ]
    for alert in EXPECTED_ALERTS:
        outcomes = {bool(case["exp_alerts"]) for case in cases if case["alertname"] == alert}
        assert outcomes == {True, False}, f"{alert}: fired {True in outcomes}, kept quiet {False in outcomes}"


@pytest.mark.parametrize("alert", sorted(EXPECTED_ALERTS))
@pytest.mark.parametrize("broken", ["vector(1) > 2", "vector(1)"], ids=["never-fires", "always-fires"])
def test_a_broken_rule_fails_its_unit_tests(tmp_path: Path, alert: str, broken: str) -> None:
    """Each alert's tests catch a rule that never fires and one that fires on fine series."""
    rules = yaml.safe_load(ALERTS.read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            if rule["alert"] == alert:
                rule["expr"] = broken
    (tmp_path / "alerts.yml").write_text(yaml.safe_dump(rules))
    (tmp_path / "alerts.test.yml").write_text(ALERT_TESTS.read_text())

    result = promtool("test", "rules", "alerts.test.yml", cwd=tmp_path)

    assert result.returncode != 0
    assert f"alertname: {alert}," in result.stdout + result.stderr


# -- compose ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def services() -> dict[str, dict[str, Any]]:
    return interpolate_tree(yaml.safe_load(COMPOSE_PATH.read_text()), read_env_file(ENV_EXAMPLE_PATH))[
        "services"
    ]


def test_compose_prometheus_loads_this_folder_and_scrapes_every_service(services: dict[str, Any]) -> None:
    service = services["prometheus"]
    assert "./deploy/prometheus:/etc/prometheus/covertype:ro" in service["volumes"]
    assert "--config.file=/etc/prometheus/covertype/prometheus.yml" in service["command"]
    jobs = _scrape_jobs()
    assert set(jobs) == {"api-data", "inference-api", "mlflow", "pushgateway"}
    static = {
        name: job["static_configs"][0]["targets"] for name, job in jobs.items() if "static_configs" in job
    }
    assert static == {
        "api-data": ["api-data:8000"],
        "mlflow": ["mlflow:5000"],
        "pushgateway": ["pushgateway:9091"],
    }
    for name, [target] in static.items():
        assert target.split(":")[0] in services, name
    # Every inference replica, not the load balancer: one A record per replica of the scaled service.
    [dns] = jobs["inference-api"]["dns_sd_configs"]
    assert (dns["names"], dns["type"], dns["port"]) == (["inference-api"], "A", 8001)
    assert "8001" in services["inference-api"]["expose"]
    assert jobs["pushgateway"]["honor_labels"] is True


def test_compose_mlflow_exposes_metrics_that_prometheus_reads_as_the_admin(services: dict[str, Any]) -> None:
    mlflow = services["mlflow"]
    [expose] = [word for word in mlflow["command"] if word.startswith("--expose-prometheus=")]
    assert expose.partition("=")[2] in mlflow["tmpfs"]
    auth = _scrape_jobs()["mlflow"]["basic_auth"]
    assert auth["username"] == read_env_file(ENV_EXAMPLE_PATH)["MLFLOW_ADMIN_USER"]
    assert "password" not in auth
    [secret] = services["prometheus"]["secrets"]
    assert auth["password_file"] == f"/run/secrets/{secret}"
    variable = yaml.safe_load(COMPOSE_PATH.read_text())["secrets"][secret]["environment"]
    assert variable == "MLFLOW_ADMIN_PASSWORD" and SECRET_NAME.search(variable)


def test_compose_airflow_pushes_to_the_pushgateway(services: dict[str, Any]) -> None:
    for name in ("airflow-worker", "airflow-scheduler"):
        assert services[name]["environment"]["COVERTYPE_PUSHGATEWAY_URL"] == "http://pushgateway:9091", name


# -- a real Prometheus ------------------------------------------------------------------------------------


def test_prometheus_scrapes_the_data_api_and_the_pushgateway_and_fires_on_a_real_push(
    tmp_path: Path, sample_csv: Path
) -> None:
    with (
        pushgateway(tmp_path) as gateway,
        data_api_server(data_api_settings(tmp_path, sample_csv), port=unused_port()) as data_api,
    ):
        httpx.get(f"{data_api}/data", params={"group_number": 1}, timeout=30).raise_for_status()
        endpoints = {
            "api-data:8000": data_api.removeprefix("http://"),
            "pushgateway:9091": gateway.removeprefix("http://"),
        }
        config = localized_config(SCRAPE_CONFIG, endpoints=endpoints, jobs={"api-data", "pushgateway"})
        with prometheus(config, tmp_path) as server:
            wait_for_targets(server, expected=2)
            assert query(server, 'covertype_data_polls_total{job="api-data", group="1", outcome="new_batch"}')
            assert not query(server, 'ALERTS{alertname="CovertypeTrainingFailed"}')

            push_training_outcome(Settings(data_dir=tmp_path, pushgateway_url=gateway), succeeded=False)

            deadline = time.monotonic() + 30
            while not (
                firing := query(server, 'ALERTS{alertname="CovertypeTrainingFailed", alertstate="firing"}')
            ):
                assert time.monotonic() < deadline, "the pushed failure did not fire CovertypeTrainingFailed"
                time.sleep(0.5)
            assert firing[0]["metric"]["job"] == "covertype_train"  # the pushed job label, kept


def test_the_compose_config_localized_for_this_machine_is_still_valid(tmp_path: Path) -> None:
    """What the topology test runs: each target on loopback, the inference replicas listed, a password."""
    password = tmp_path / "mlflow-password"
    password.write_text("not-a-real-password")
    endpoints = {
        "api-data:8000": "127.0.0.1:1",
        "mlflow:5000": "127.0.0.1:2",
        "pushgateway:9091": "127.0.0.1:3",
    }
    replicas = {"inference-api": ["127.0.0.1:4", "127.0.0.1:5"]}

    config = localized_config(SCRAPE_CONFIG, endpoints=endpoints, replicas=replicas, password_file=password)

    targets = {job["job_name"]: job["static_configs"][0]["targets"] for job in config["scrape_configs"]}
    assert targets == {
        "api-data": ["127.0.0.1:1"],
        "inference-api": ["127.0.0.1:4", "127.0.0.1:5"],
        "mlflow": ["127.0.0.1:2"],
        "pushgateway": ["127.0.0.1:3"],
    }
    (tmp_path / "local.yml").write_text(yaml.safe_dump(config))
    _passes(promtool("check", "config", tmp_path / "local.yml"))
    with pytest.raises(AssertionError, match="job inference-api: no local address"):
        localized_config(SCRAPE_CONFIG, endpoints=endpoints, password_file=password)
