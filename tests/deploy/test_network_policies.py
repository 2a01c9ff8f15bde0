"""The network policies of deploy/kubernetes, evaluated on the rendered overlays with the Airflow chart's pods
(their labels from the real helm render) by Kubernetes semantics (support.network_policy): each flow of the
table below must be allowed or denied as it says. One line adds a flow. The Ingress sends each host to a
Service that exists, over TLS."""

from __future__ import annotations

from typing import Any

import pytest

from support.kubernetes import (
    AIRFLOW_RELEASE,
    OVERLAYS,
    airflow_chart,
    find,
    pod_labels,
    rendered,
    workloads,
)
from support.network_policy import Endpoint, evaluate

#: Endpoints outside the namespace: the ingress controller, Prometheus, the cluster DNS, a pod of another
#: namespace, a public address, the managed stores and the Airflow metadata database (outside the cluster).
OUTSIDE = {
    "ingress-controller": Endpoint.pod("ingress-nginx", {"app.kubernetes.io/name": "ingress-nginx"}),
    "prometheus": Endpoint.pod("monitoring", {"app.kubernetes.io/name": "prometheus"}),
    "kube-dns": Endpoint.pod("kube-system", {"k8s-app": "kube-dns"}),
    "other-namespace": Endpoint.pod("default", {"app": "anything"}),
    "internet": Endpoint(ip="203.0.113.7"),
    "private-address": Endpoint(ip="10.20.0.5"),
    "metadata-db": Endpoint(ip="10.20.0.6"),
}
#: Where prod's managed stores are: outside the cluster (overlays/prod/stores.yaml's ExternalName Services).
PROD_STORES = {"mysql": Endpoint(ip="10.20.0.7"), "minio": Endpoint(ip="10.20.0.8")}
#: The Pushgateway's pod labels (its manifest, by another change, carries this name label).

# source, destination, port, allowed
FLOWS: list[tuple[str, str, int, bool]] = [
    # The edge: the ingress controller reaches the UIs and the inference API only.
    ("ingress-controller", "ui", 8501, True),
    ("ingress-controller", "inference-api", 8001, True),
    ("ingress-controller", "airflow-api-server", 8080, True),
    ("ingress-controller", "mlflow", 5000, True),
    ("ingress-controller", "api-data", 8000, False),
    ("ingress-controller", "mysql", 3306, False),
    ("other-namespace", "ui", 8501, False),
    ("other-namespace", "mysql", 3306, False),
    ("other-namespace", "minio", 9000, False),
    # The web UI.
    ("ui", "inference-api", 8001, True),
    ("ui", "api-data", 8000, True),
    ("ui", "mlflow", 5000, True),
    ("ui", "airflow-api-server", 8080, True),
    ("ui", "mysql", 3306, True),
    ("ui", "minio", 9000, False),
    ("ui", "airflow-redis", 6379, False),
    # Serving.
    ("inference-api", "mlflow", 5000, True),
    ("inference-api", "mysql", 3306, True),
    ("inference-api", "minio", 9000, False),
    ("inference-api", "airflow-api-server", 8080, False),
    ("inference-api", "internet", 443, False),
    # The data API: the dataset's public download only.
    ("api-data", "internet", 443, True),
    ("api-data", "private-address", 443, False),
    ("api-data", "mysql", 3306, False),
    # MLflow and the setup Jobs.
    ("mlflow", "mysql", 3306, True),
    ("mlflow", "minio", 9000, True),
    ("mlflow", "internet", 443, False),
    ("mysql-init", "mysql", 3306, True),
    ("bucket", "minio", 9000, True),
    ("bucket", "mysql", 3306, False),
    ("mlflow-setup", "mlflow", 5000, True),
    ("mlflow-setup", "mysql", 3306, False),
    # The Airflow workers run covertype's tasks.
    ("airflow-worker", "mysql", 3306, True),
    ("airflow-worker", "minio", 9000, True),
    ("airflow-worker", "mlflow", 5000, True),
    ("airflow-worker", "api-data", 8000, True),
    ("airflow-worker", "pushgateway", 9091, True),
    ("airflow-worker", "airflow-redis", 6379, True),
    ("airflow-worker", "airflow-api-server", 8080, True),
    ("airflow-worker", "metadata-db", 5432, True),
    ("airflow-worker", "kube-dns", 53, True),
    ("airflow-worker", "internet", 443, False),
    # The rest of Airflow keeps working, and reaches no covertype store.
    ("airflow-scheduler", "airflow-redis", 6379, True),
    ("airflow-scheduler", "metadata-db", 5432, True),
    ("airflow-scheduler", "mysql", 3306, False),
    ("airflow-scheduler", "minio", 9000, False),
    ("airflow-triggerer", "airflow-api-server", 8080, True),
    ("airflow-dag-processor", "airflow-api-server", 8080, True),
    ("airflow-dag-processor", "metadata-db", 5432, True),
    ("airflow-api-server", "airflow-worker", 8793, True),
    ("airflow-api-server", "airflow-triggerer", 8794, True),
    ("airflow-api-server", "metadata-db", 5432, True),
    ("airflow-api-server", "mysql", 3306, False),
    ("airflow-run-airflow-migrations", "metadata-db", 5432, True),
    ("airflow-create-user", "metadata-db", 5432, True),
    ("airflow-create-user", "mysql", 3306, False),
    # Prometheus scrapes the metrics ports, nothing else.
    ("prometheus", "api-data", 8000, True),
    ("prometheus", "inference-api", 8001, True),
    ("prometheus", "mlflow", 5000, True),
    ("prometheus", "pushgateway", 9091, True),
    ("prometheus", "mysql", 3306, False),
    ("pushgateway", "mysql", 3306, False),
]


def namespace_of(overlay: str) -> str:
    (namespace,) = [d["metadata"]["name"] for d in rendered(overlay) if d["kind"] == "Namespace"]
    return namespace


def endpoints(overlay: str) -> dict[str, Endpoint]:
    """Every workload's pods of the overlay and of the chart (installed into the overlay's namespace)."""
    namespace = namespace_of(overlay)
    found = {
        workload["metadata"]["name"]: Endpoint.pod(namespace, pod_labels(workload))
        for workload in [*workloads(rendered(overlay)), *workloads(airflow_chart())]
    }
    if overlay == "prod":
        assert not {"mysql", "minio"} & set(found), "prod's stores are outside the cluster"
        found |= PROD_STORES
    return found | OUTSIDE


def policies(overlay: str) -> list[dict[str, Any]]:
    return [d for d in rendered(overlay) if d["kind"] == "NetworkPolicy"]


def flow_id(flow: tuple[str, str, int, bool]) -> str:
    source, destination, port, allowed = flow
    return f"{source}->{destination}:{port}-{'allowed' if allowed else 'denied'}"


def check(overlay: str, flow: tuple[str, str, int, bool], given: list[dict[str, Any]]) -> None:
    source, destination, port, allowed = flow
    known = endpoints(overlay)
    verdict = evaluate(given, known[source], known[destination], port)
    assert verdict.allowed is allowed, f"{overlay}: {flow_id(flow)} expected, got: {verdict.reason}"


@pytest.mark.parametrize("flow", FLOWS, ids=flow_id)
def test_flow_in_dev_with_the_stores_in_the_cluster(flow: tuple[str, str, int, bool]) -> None:
    check("dev", flow, policies("dev"))


@pytest.mark.parametrize(
    "flow",
    # In prod the stores are outside the cluster: who reaches them from outside the namespace is the
    # managed service's firewall's business, not these policies'.
    [f for f in FLOWS if not (f[0] in OUTSIDE and f[1] in PROD_STORES)],
    ids=flow_id,
)
def test_flow_in_prod_with_managed_stores(flow: tuple[str, str, int, bool]) -> None:
    check("prod", flow, policies("prod"))


def test_the_table_names_only_endpoints_that_exist() -> None:
    known = set(endpoints("dev"))
    assert {name for flow in FLOWS for name in flow[:2]} <= known
    # Every workload of the overlay and of the chart appears in the table at least once.
    assert known - set(OUTSIDE) <= {name for flow in FLOWS for name in flow[:2]}


def test_the_chart_pods_carry_the_labels_the_policies_select() -> None:
    for workload in workloads(airflow_chart()):
        labels = pod_labels(workload)
        assert labels["release"] == AIRFLOW_RELEASE and labels["tier"] == "airflow", workload["metadata"][
            "name"
        ]


@pytest.mark.parametrize(
    ("removed", "flow"),
    [
        ("ui", ("ui", "inference-api", 8001, True)),  # the source's egress goes
        ("inference-api", ("ui", "inference-api", 8001, True)),  # the destination's ingress goes
        ("mysql", ("airflow-worker", "mysql", 3306, True)),
        ("allow-dns", ("airflow-worker", "kube-dns", 53, True)),
    ],
)
def test_removing_a_policy_denies_the_flows_it_opened(removed: str, flow: tuple[str, str, int, bool]) -> None:
    kept = [p for p in policies("dev") if p["metadata"]["name"] != removed]
    assert len(kept) == len(policies("dev")) - 1
    check("dev", flow, policies("dev"))
    check("dev", (*flow[:3], False), kept)


def test_without_the_default_deny_an_unselected_pod_is_open() -> None:
    """The evaluator's baseline: a pod no policy selects accepts anything; default-deny closes it."""
    every = policies("dev")
    unselected = Endpoint.pod(namespace_of("dev"), {"app.kubernetes.io/name": "debug"})
    outsider = OUTSIDE["other-namespace"]
    assert evaluate(
        [p for p in every if p["metadata"]["name"] != "default-deny"], outsider, unselected, 80
    ).allowed
    assert not evaluate(every, outsider, unselected, 80).allowed


# --------------------------------------------------------------------------------------------------------
# The Ingress
# --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_ingress_sends_each_host_to_a_service_port_over_tls(overlay: str) -> None:
    docs = [*rendered(overlay), *airflow_chart()]
    ingress = find(rendered(overlay), "Ingress", "covertype")
    services = {
        d["metadata"]["name"]: {p["port"] for p in d["spec"]["ports"]} for d in docs if d["kind"] == "Service"
    }
    hosts = set()
    for rule in ingress["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            backend = path["backend"]["service"]
            assert backend["port"]["number"] in services.get(backend["name"], set()), (
                f"{rule['host']}: {backend}"
            )
        hosts.add(rule["host"])
    (tls,) = ingress["spec"]["tls"]
    assert set(tls["hosts"]) == hosts and tls["secretName"]
    backends = {p["backend"]["service"]["name"] for r in ingress["spec"]["rules"] for p in r["http"]["paths"]}
    assert {"ui", "inference-api"} <= backends


def test_a_peer_with_both_selectors_needs_both_two_peers_need_either() -> None:
    """The classic pitfall: `- namespaceSelector: .. podSelector: ..` is AND, two list items are OR."""
    monitoring = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
    prometheus = {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}}}
    target = Endpoint.pod("covertype", {"app": "target"})
    other_pod_in_monitoring = Endpoint.pod("monitoring", {"app.kubernetes.io/name": "grafana"})

    def policy(peers: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "metadata": {"name": "p", "namespace": "covertype"},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{"from": peers}]},
        }

    both = policy([monitoring | prometheus])
    either = policy([monitoring, prometheus])
    assert evaluate([both], OUTSIDE["prometheus"], target, 9090).allowed
    assert not evaluate([both], other_pod_in_monitoring, target, 9090).allowed
    assert evaluate([either], other_pod_in_monitoring, target, 9090).allowed
    # A podSelector alone means the policy's own namespace: Prometheus in `monitoring` is not admitted.
    assert not evaluate([policy([prometheus])], OUTSIDE["prometheus"], target, 9090).allowed
