"""Debian's Prometheus, Pushgateway and promtool, run for real: a server on a free port, its targets, queries.

``prometheus(localized_config(SCRAPE_CONFIG, endpoints=...), workdir)`` runs ``/usr/bin/prometheus`` with
the compose scrape config (``deploy/prometheus/prometheus.yml``, whose targets are compose host names)
pointed at processes on this machine, scraping every second, with its alert rules; then
:func:`wait_for_targets` waits until every target is up and :func:`query` asks it.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import yaml
from prometheus_client.parser import text_string_to_metric_families

from covertype.processes import Service, unused_port
from support.paths import REPO_ROOT

PROMETHEUS = Path("/usr/bin/prometheus")
PROMTOOL = Path("/usr/bin/promtool")
PUSHGATEWAY = Path("/usr/bin/prometheus-pushgateway")
#: The rules, their promtool unit tests and the compose scrape config.
PROMETHEUS_DIR = REPO_ROOT / "deploy" / "prometheus"
SCRAPE_CONFIG = PROMETHEUS_DIR / "prometheus.yml"
#: The alerts deploy/prometheus/alerts.yml must hold, by name.
EXPECTED_ALERTS = frozenset(
    {
        "CovertypeServiceDown",
        "CovertypeNoBatchStored",
        "CovertypeChampionAccuracyDropped",
        "CovertypeChampionBatchDrift",
        "CovertypeTrainingFailed",
        "CovertypeInferenceSlow",
    }
)


def promtool(*args: str | Path, cwd: Path = PROMETHEUS_DIR) -> subprocess.CompletedProcess[str]:
    """``promtool args...`` in ``cwd``, its output captured (the caller checks the return code)."""
    return subprocess.run(
        [str(PROMTOOL), *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def pushgateway_command(port: int) -> list[str]:
    """Debian's Pushgateway on 127.0.0.1:``port``, with no persistence."""
    # Debian's build persists to /var/lib/prometheus/pushgateway.data by default: every gateway would start
    # with the pushes of the one before.
    return [str(PUSHGATEWAY), f"--web.listen-address=127.0.0.1:{port}", "--persistence.file="]


@contextmanager
def pushgateway(workdir: Path) -> Iterator[str]:
    """A Pushgateway on a free port of 127.0.0.1, no persistence; yields its URL."""
    port = unused_port()
    url = f"http://127.0.0.1:{port}"
    service = Service(
        "pushgateway",
        pushgateway_command(port),
        f"{url}/-/healthy",
        port,
        log_path=workdir / "pushgateway.log",
        start_timeout=30,
    )
    with service:
        yield url


#: A sample's name and labels.
SampleKey = tuple[str, frozenset[tuple[str, str]]]


def parse_samples(text: str) -> dict[SampleKey, float]:
    """Every sample of a page in Prometheus's text format, keyed by name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def scraped_samples(url: str, *, timeout: float = 10.0) -> dict[SampleKey, float]:
    """Every sample of the ``/metrics`` page at ``url`` (a Pushgateway, an API)."""
    response = httpx.get(f"{url}/metrics", timeout=timeout)
    response.raise_for_status()
    return parse_samples(response.text)


def localized_config(
    config: Path,
    *,
    endpoints: Mapping[str, str],
    replicas: Mapping[str, Sequence[str]] | None = None,
    password_file: Path | None = None,
    jobs: Collection[str] | None = None,
    interval: str = "1s",
) -> dict[str, Any]:
    """The scrape config ``config`` (compose's) for processes on this machine, scraping every ``interval``.

    ``endpoints`` maps each static target (``api-data:8000``) to where it listens here; ``replicas`` gives
    the targets a ``dns_sd_configs`` name (``inference-api``) resolves to, which become static targets;
    ``password_file`` replaces every ``basic_auth`` password file; ``jobs`` keeps only those jobs (None: all).
    The rule files are those next to ``config``. A target with no mapping is an AssertionError naming it.
    """
    settings = yaml.safe_load(config.read_text())
    settings.setdefault("global", {}).update(scrape_interval=interval, evaluation_interval=interval)
    settings["rule_files"] = [str(config.parent / rules) for rules in settings.get("rule_files", [])]
    scrape_configs = []
    for job in settings["scrape_configs"]:
        if jobs is not None and job["job_name"] not in jobs:
            continue
        targets = [target for static in job.pop("static_configs", []) for target in static["targets"]]
        local = [endpoints.get(target) for target in targets]
        for dns in job.pop("dns_sd_configs", []):
            local += [address for name in dns["names"] for address in (replicas or {}).get(name, [None])]
        assert local and None not in local, (
            f"job {job['job_name']}: no local address for {targets or 'its DNS names'}"
        )
        if "basic_auth" in job:
            assert password_file, f"job {job['job_name']} signs in: give password_file"
            job["basic_auth"]["password_file"] = str(password_file)
        scrape_configs.append({**job, "static_configs": [{"targets": local}]})
    settings["scrape_configs"] = scrape_configs
    return settings


def prometheus_command(config: Mapping[str, Any], workdir: Path, port: int) -> list[str]:
    """Debian's Prometheus with the parsed ``config`` (see :func:`localized_config`), written into ``workdir``
    with its database, on 127.0.0.1:``port``."""
    path = workdir / "prometheus.yml"
    path.write_text(yaml.safe_dump(dict(config), sort_keys=False))
    return [
        str(PROMETHEUS),
        f"--config.file={path}",
        f"--storage.tsdb.path={workdir / 'prometheus-data'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]


@contextmanager
def prometheus(config: Mapping[str, Any], workdir: Path) -> Iterator[str]:
    """Prometheus with the parsed ``config`` (see :func:`localized_config`) on a free port; its URL."""
    port = unused_port()
    url = f"http://127.0.0.1:{port}"
    command = prometheus_command(config, workdir, port)
    log = workdir / "prometheus.log"
    with Service("prometheus", command, f"{url}/-/ready", port, log_path=log, start_timeout=60):
        yield url


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
