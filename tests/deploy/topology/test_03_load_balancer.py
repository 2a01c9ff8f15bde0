"""Stage 3: nginx with compose's ``nginx/inference-lb.conf`` in front of two inference replicas, for real.

Debian's nginx finds the replicas through a DNS stand-in (``inference-api``: one A record per replica, as
Docker's DNS answers), with the config's own ``resolver ... valid=10s`` and ``proxy_next_upstream``:

- a replica with no model (503) costs no failed request: nginx passes the request on;
- requests are spread over both replicas (counted by each replica's own ``/metrics``);
- a replica SIGKILLed under load (clients predicting for 20 s, the kill at 10 s) costs at most a handful of
  failed requests, and none once the DNS answer without it reached nginx.

The figures go to ``benchmarks/results/lb_replica_kill.json``.
"""

from __future__ import annotations

import os
import sys
import time

import httpx
import pytest

from support import load, nginx
from support.faults import record_fault
from support.load import Load
from support.paths import REPO_ROOT
from support.prometheus import scraped_samples
from support.topology import INFERENCE_PORT, Topology, sample_record, wait_for

sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
from results_file import write_results  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.mariadb]

#: How long the clients predict through nginx during the kill.
LOAD_SECONDS = 20.0
#: At most this many failed requests when a replica dies under load ("a handful").
HANDFUL = 5


def predictions_by_status(url: str) -> dict[str, float]:
    """How many ``POST /predict`` a replica answered, by status code, from its ``/metrics``."""
    counts: dict[str, float] = {}
    for (name, label_pairs), value in scraped_samples(url, timeout=30).items():
        labels = dict(label_pairs)
        if name == "covertype_http_requests_total" and labels.get("endpoint") == "/predict":
            counts[labels["status"]] = counts.get(labels["status"], 0) + value
    return counts


def ready(url: str) -> bool | None:
    try:
        return True if httpx.get(f"{url}/ready", timeout=10).status_code == 200 else None
    except httpx.HTTPError:
        return None


@pytest.mark.timeout(900)
def test_nginx_spreads_skips_a_replica_without_model_and_survives_a_kill(topology: Topology) -> None:
    load_before = list(os.getloadavg())
    stage = topology.stages.stage
    lb = topology.url("inference-lb")
    first, second = topology.components["inference-api"], topology.components["inference-api-2"]
    record = sample_record()
    dns = topology.dns
    assert dns is not None
    assert first.service.port == second.service.port == INFERENCE_PORT

    with stage("nginx: a replica without a model costs no failed request"):
        wait_for(lambda: ready(first.url), timeout=300, what="inference-api serving the champion")
        assert httpx.get(f"{second.url}/ready", timeout=10).status_code == 503
        with httpx.Client(timeout=30) as client:
            statuses = [client.post(f"{lb}/predict", json=record).status_code for _ in range(40)]
        assert statuses == [200] * 40, statuses
        skipped = predictions_by_status(second.url).get("503", 0)
        assert skipped > 0, "nginx never tried the replica without a model: no spreading to judge"

    with stage("nginx: requests spread over both replicas"):
        second.restart(env=topology.replica_environment("inference-api-2")).wait_healthy(180)
        wait_for(lambda: ready(second.url), timeout=180, what="inference-api-2 serving the champion")
        before = {c.name: predictions_by_status(c.url).get("200", 0) for c in (first, second)}
        with httpx.Client(timeout=30) as client:
            statuses = [client.post(f"{lb}/predict", json=record).status_code for _ in range(200)]
        assert statuses == [200] * 200
        served = {
            c.name: predictions_by_status(c.url).get("200", 0) - before[c.name] for c in (first, second)
        }
        assert sum(served.values()) == 200 and min(served.values()) >= 50, served

    with stage("nginx: a replica SIGKILLed under load, then dropped from DNS"):
        killed: list[float] = []  # when, since the load began and as epoch seconds (the access log's clock)
        traffic = Load(lb, record)

        def kill() -> None:
            killed.extend((time.monotonic() - traffic.started, time.time()))
            second.kill()

        traffic.run(LOAD_SECONDS, at_half=kill)
        dead = f"{topology.replica_hosts['inference-api-2']}:{INFERENCE_PORT}"
        log = nginx.access_log(topology.nginx_prefix)
        passed_on = [a for a in log if a.at >= killed[1] and dead in a.upstreams]
        during = traffic.figures() | {
            "killed_at_s": round(killed[0], 3),
            # requests nginx first sent to the dead replica, then to the live one (what the dead one "said")
            "passed_on_from_the_dead_replica": len(passed_on),
            "dead_replica_statuses": sorted(
                {a.upstream_statuses[a.upstreams.index(dead)] for a in passed_on}
            ),
            # requests in flight on the dead replica, passed on thanks to proxy_next_upstream non_idempotent
            "in_flight_reset_and_passed_on": nginx.error_log(topology.nginx_prefix).count(
                "Connection reset by peer"
            ),
        }
        assert during["failed"] <= HANDFUL, during

        # Docker's DNS forgets a dead container; nginx asks again once its answer is 10 s old (valid=10s).
        asked = dns.queries.get("inference-api", 0)
        dns.set("inference-api", [topology.replica_hosts["inference-api"]])
        dropped = time.monotonic()
        with httpx.Client(timeout=30) as client:

            def asked_again() -> float | None:
                client.post(f"{lb}/predict", json=record)  # nginx resolves when a request needs the name
                return time.monotonic() - dropped if dns.queries["inference-api"] > asked else None

            re_resolved = wait_for(
                asked_again, timeout=30, what="nginx resolving inference-api again", every=0.2
            )
        resolved_at = time.time()
        after = Load(lb, record).run(LOAD_SECONDS / 2).figures()
        log = nginx.access_log(topology.nginx_prefix)
        after["passed_on_from_the_dead_replica"] = sum(
            1 for a in log if a.at > resolved_at and dead in a.upstreams
        )
        assert after["failed"] == 0 and after["passed_on_from_the_dead_replica"] == 0, after

    figures = {
        "replicas": 2,
        "clients": load.CLIENTS,
        "load_seconds": LOAD_SECONDS,
        "no_model_replica": {"requests": 40, "failed": 0, "503s_passed_on": skipped},
        "spread_of_200": served,
        "kill_under_load": during,
        "nginx_re_resolved_after_s": round(re_resolved, 1),
        "after_re_resolve": after,
        "nginx": f"Debian's {nginx.version()}, nginx/inference-lb.conf with its resolver and listen replaced",
        "dns": "support/dns_stub.py, answering inference-api with one A record per live replica",
    }
    write_results("lb_replica_kill", figures, load_before=load_before)
    record_fault(
        topology,
        "inference_replica",
        recovery_seconds=round(re_resolved, 1),
        recovered_by="nginx passes failed requests on to the live replica; DNS drops the dead one",
        rows_lost=None,
        rows_duplicated=None,
        versions_registered=None,
        predictions=during["requests"],
        failed_predictions=during["failed"],
    )

    # Leave the topology as compose would after its restart policy: the replica back, in DNS again.
    second.start()
    dns.set("inference-api", list(topology.replica_hosts.values()))
