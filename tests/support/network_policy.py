"""Kubernetes NetworkPolicy semantics, evaluated offline: is a TCP/UDP connection from one endpoint to
another on a port allowed by a set of policies?

The rules (https://kubernetes.io/docs/concepts/services-networking/network-policies/):
- a pod selected by no policy of a direction (Ingress or Egress, by `policyTypes`) is open in that direction;
- a pod selected by at least one is closed in that direction but for what the union of those policies'
  rules allows: policies only add;
- a connection is allowed when egress is allowed at the source AND ingress at the destination;
- a peer's `podSelector` alone selects pods of the policy's namespace, `namespaceSelector` alone every pod
  of the selected namespaces, both together the selected pods of the selected namespaces; an empty peer
  list (`to`/`from` absent) matches every endpoint, an empty port list every port;
- `ipBlock` matches addresses outside the cluster (this evaluator never matches a pod by `ipBlock`, the
  portable reading: pod IPs are ephemeral and CNIs differ on it).
Policies of other namespaces do not govern the endpoints outside their namespace: an endpoint outside the
namespaces whose policies are given is open in both directions, as a namespace without policies is.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Endpoint:
    """A pod (namespace, its labels and its namespace's labels) or an address outside the cluster (ip)."""

    namespace: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    namespace_labels: Mapping[str, str] = field(default_factory=dict)
    ip: str | None = None

    def __post_init__(self) -> None:
        if (self.namespace is None) == (self.ip is None):
            raise ValueError(f"an endpoint is a pod (namespace) or an outside address (ip), got {self}")

    @classmethod
    def pod(cls, namespace: str, labels: Mapping[str, str]) -> Endpoint:
        """A pod of `namespace`, whose labels carry Kubernetes' `kubernetes.io/metadata.name`."""
        return cls(namespace, dict(labels), {"kubernetes.io/metadata.name": namespace})


def selector_matches(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """A label selector (matchLabels and matchExpressions; {} matches everything) against labels."""
    unknown = set(selector) - {"matchLabels", "matchExpressions"}
    if unknown:
        raise ValueError(f"label selector with unknown keys {sorted(unknown)}: {selector}")
    if any(labels.get(key) != value for key, value in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values", [])
        if operator == "In":
            ok = key in labels and labels[key] in values
        elif operator == "NotIn":
            ok = key not in labels or labels[key] not in values
        elif operator == "Exists":
            ok = key in labels
        elif operator == "DoesNotExist":
            ok = key not in labels
        else:
            raise ValueError(f"unknown selector operator {operator!r} in {expression}")
        if not ok:
            return False
    return True


def peer_matches(peer: Mapping[str, Any], policy_namespace: str, endpoint: Endpoint) -> bool:
    if "ipBlock" in peer:
        if endpoint.ip is None:
            return False
        address = ipaddress.ip_address(endpoint.ip)
        block = peer["ipBlock"]
        return address in ipaddress.ip_network(block["cidr"]) and not any(
            address in ipaddress.ip_network(cidr) for cidr in block.get("except", [])
        )
    if endpoint.namespace is None:
        return False
    if "namespaceSelector" in peer:
        if not selector_matches(peer["namespaceSelector"], endpoint.namespace_labels):
            return False
    elif endpoint.namespace != policy_namespace:
        return False
    return selector_matches(peer.get("podSelector", {}), endpoint.labels)


def port_matches(ports: list[Mapping[str, Any]] | None, port: int, protocol: str) -> bool:
    if not ports:
        return True
    for entry in ports:
        number = entry.get("port")
        if isinstance(number, str):
            raise ValueError(f"named port {number!r}: give policies port numbers (the evaluator has no pods)")
        end = entry.get("endPort", number)
        if entry.get("protocol", "TCP") == protocol and (number is None or number <= port <= end):
            return True
    return False


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    reason: str


def _direction_allows(
    policies: Iterable[Mapping[str, Any]],
    direction: str,
    subject: Endpoint,
    other: Endpoint,
    port: int,
    protocol: str,
) -> tuple[bool, list[str]]:
    """Whether `subject` may send to (Egress) / receive from (Ingress) `other`; the policies selecting it."""
    rules_key, peers_key = ("egress", "to") if direction == "Egress" else ("ingress", "from")
    selecting = []
    for policy in policies:
        spec, namespace = policy["spec"], policy["metadata"]["namespace"]
        types = spec.get("policyTypes") or (["Ingress", "Egress"] if spec.get("egress") else ["Ingress"])
        if direction not in types or subject.namespace != namespace:
            continue
        if not selector_matches(spec["podSelector"], subject.labels):
            continue
        selecting.append(policy["metadata"]["name"])
        for rule in spec.get(rules_key) or []:
            peers = rule.get(peers_key)
            if (not peers or any(peer_matches(p, namespace, other) for p in peers)) and port_matches(
                rule.get("ports"), port, protocol
            ):
                return True, [policy["metadata"]["name"]]
    return not selecting, selecting


def evaluate(
    policies: Iterable[Mapping[str, Any]],
    source: Endpoint,
    destination: Endpoint,
    port: int,
    protocol: str = "TCP",
) -> Verdict:
    """Whether `policies` let `source` open a connection to `destination` on `port`, and why."""
    policies = list(policies)
    for policy in policies:
        if not policy.get("metadata", {}).get("namespace"):
            raise ValueError(
                f"NetworkPolicy {policy['metadata'].get('name')} has no namespace (render first)"
            )
    egress, by = _direction_allows(policies, "Egress", source, destination, port, protocol)
    if not egress:
        return Verdict(False, f"no egress rule of {by} at the source allows it")
    ingress, by_in = _direction_allows(policies, "Ingress", destination, source, port, protocol)
    if not ingress:
        return Verdict(False, f"no ingress rule of {by_in} at the destination allows it")
    return Verdict(True, f"egress by {by or 'no policy'}, ingress by {by_in or 'no policy'}")
