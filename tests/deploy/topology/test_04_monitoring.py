"""Stage 4: Debian's Prometheus with compose's scrape config (deploy/prometheus/prometheus.yml) and alert
rules, scraping the topology: every target is up, each service's own series are there, the rules load.

Targets: the data API, each inference replica (compose finds them by DNS; here they are mapped to the two
replicas' addresses), the MLflow server's ``--expose-prometheus`` (signed in as the MLflow admin, as compose
does, from a password file) and the Pushgateway the Airflow tasks push their outcomes to.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from support.prometheus import EXPECTED_ALERTS, query, wait_for_targets
from support.topology import Topology, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.mariadb]

#: One series each scraped service exposes by itself, by job (the Pushgateway's come from the Airflow tasks).
SERIES = {
    "api-data": 'covertype_data_polls_total{job="api-data", outcome="new_batch"}',
    "inference-api": 'covertype_http_requests_total{job="inference-api"}',
    "mlflow": 'mlflow_http_request_total{job="mlflow"}',
    "pushgateway (ingestion)": "covertype_ingest_last_stored_timestamp_seconds",
    "pushgateway (training)": "covertype_training_last_success_timestamp_seconds",
}


@pytest.mark.timeout(900)
def test_prometheus_scrapes_every_service_and_loads_the_alert_rules(topology: Topology) -> None:
    url = topology.url("prometheus")
    with topology.stages.stage("Prometheus: every target up, each service's series present"):
        targets = wait_for_targets(url, expected=5, timeout=120)
        jobs = sorted(target["labels"]["job"] for target in targets)
        assert jobs == ["api-data", "inference-api", "inference-api", "mlflow", "pushgateway"], jobs
        replicas = {
            target["labels"]["instance"] for target in targets if target["labels"]["job"] == "inference-api"
        }
        assert replicas == {f"{host}:8001" for host in topology.replica_hosts.values()}

        for what, promql in SERIES.items():
            # A stage may run alone: the pushes come once a batch is stored and a training run promoted.
            wait_for(lambda promql=promql: query(url, promql) or None, timeout=600, what=f"{what}: {promql}")
        # Both replicas' own series (one was restarted by stage 3: its counters start with the first request,
        # Prometheus's own scrape included).
        per_replica = 'count by (instance) (covertype_http_requests_total{job="inference-api"})'
        wait_for(lambda: len(query(url, per_replica)) == 2 or None, timeout=60, what="both replicas' series")

    alerts = alerting_rules(url)
    assert set(alerts) >= EXPECTED_ALERTS, sorted(alerts)
    assert all(rule["health"] == "ok" for rule in alerts.values()), alerts
    # Every service is up and the training run succeeded: neither alert may stay on. Stage 3 killed and
    # restarted a replica, so CovertypeServiceDown may still be pending until the rules are evaluated again
    # (every second here) on the replica's new `up`.
    quiet = ("CovertypeServiceDown", "CovertypeTrainingFailed")
    wait_for(
        lambda: all(alerting_rules(url)[name]["state"] == "inactive" for name in quiet) or None,
        timeout=30,
        every=1,
        what=f"{' and '.join(quiet)} inactive",
    )


def alerting_rules(url: str) -> dict[str, dict[str, Any]]:
    """The alerting rules the Prometheus at ``url`` has loaded, by name, with their health and state."""
    groups = httpx.get(f"{url}/api/v1/rules", timeout=10).json()["data"]["groups"]
    return {rule["name"]: rule for group in groups for rule in group["rules"] if rule["type"] == "alerting"}
