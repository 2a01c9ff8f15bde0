"""Debian's Prometheus, Pushgateway and promtool, run for real: a server on a free port, its targets, queries.

``prometheus(config, workdir)`` runs ``/usr/bin/prometheus`` with a copy of ``config`` whose scrape and
evaluation intervals are short (1 s) and whose relative paths (rule files, password files) point where the
original's did, then :func:`wait_for_targets` waits until every target is up. The compose scrape config
(``deploy/prometheus/prometheus.yml``) names compose host names: a test maps them, as the topology test does
for its other services.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import yaml
from prometheus_client.parser import text_string_to_metric_families

from covertype.processes import Service
from support.paths import REPO_ROOT
from support.services import free_port, running

PROMETHEUS = Path("/usr/bin/prometheus")
PROMTOOL = Path("/usr/bin/promtool")
PUSHGATEWAY = Path("/usr/bin/prometheus-pushgateway")
#: The rules, their promtool unit tests and the compose scrape config.
PROMETHEUS_DIR = REPO_ROOT / "deploy" / "prometheus"


def promtool(*args: str | Path, cwd: Path = PROMETHEUS_DIR) -> subprocess.CompletedProcess[str]:
    """``promtool args...`` in ``cwd``, its output captured (the caller checks the return code)."""
    return subprocess.run(
        [str(PROMTOOL), *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


@contextmanager
def pushgateway(workdir: Path) -> Iterator[str]:
    """A Pushgateway on a free port of 127.0.0.1, no persistence; yields its URL."""
    port = free_port()
    service = Service(
        "pushgateway",
        # Debian's build persists to /var/lib/prometheus/pushgateway.data by default: every gateway would
        # start with the pushes of the one before.
        [str(PUSHGATEWAY), f"--web.listen-address=127.0.0.1:{port}", "--persistence.file="],
        f"http://127.0.0.1:{port}/-/healthy",
        port,
        log_path=workdir / "pushgateway.log",
    )
    with running(service, timeout=30):
        yield f"http://127.0.0.1:{port}"


def scraped_samples(url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of the ``/metrics`` page at ``url`` (a Pushgateway, an API), keyed by name and labels."""
    response = httpx.get(f"{url}/metrics", timeout=10)
    response.raise_for_status()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


@contextmanager
def prometheus(config: Path, workdir: Path, *, interval: str = "1s") -> Iterator[str]:
    """Prometheus with ``config`` (scrape and rule evaluation every ``interval``) on a free port; its URL."""
    settings = yaml.safe_load(config.read_text())
    settings.setdefault("global", {}).update(scrape_interval=interval, evaluation_interval=interval)
    settings["rule_files"] = [str(config.parent / rules) for rules in settings.get("rule_files", [])]
    for job in settings.get("scrape_configs", []):
        job.pop("scrape_interval", None)
        auth = job.get("basic_auth", {})
        if "password_file" in auth:
            auth["password_file"] = str(config.parent / auth["password_file"])
    copy = workdir / "prometheus.yml"
    copy.write_text(yaml.safe_dump(settings, sort_keys=False))
    port = free_port()
    service = Service(
        "prometheus",
        [
            str(PROMETHEUS),
            f"--config.file={copy}",
            f"--storage.tsdb.path={workdir / 'prometheus-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        f"http://127.0.0.1:{port}/-/ready",
        port,
        log_path=workdir / "prometheus.log",
    )
    with running(service, timeout=60):
        yield f"http://127.0.0.1:{port}"


def wait_for_targets(url: str, *, expected: int, timeout: float = 60.0) -> list[dict[str, Any]]:
    """The active targets of the Prometheus at ``url`` once ``expected`` of them are all up.

    Raises AssertionError naming each target that is not up and its last error when ``timeout`` passes.
    """
    deadline = time.monotonic() + timeout
    targets: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        targets = httpx.get(f"{url}/api/v1/targets", timeout=10).json()["data"]["activeTargets"]
        if len(targets) >= expected and all(target["health"] == "up" for target in targets):
            return targets
        time.sleep(0.5)
    states = [f"{t['labels'].get('job')} {t['scrapeUrl']}: {t['health']} {t['lastError']}" for t in targets]
    raise AssertionError(f"{len(targets)} targets (expected {expected} up) after {timeout} s: {states}")


def query(url: str, promql: str) -> list[dict[str, Any]]:
    """The instant vector ``promql`` gives now at the Prometheus at ``url``."""
    response = httpx.get(f"{url}/api/v1/query", params={"query": promql}, timeout=10)
    response.raise_for_status()
    return response.json()["data"]["result"]
