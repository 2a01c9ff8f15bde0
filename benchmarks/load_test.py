"""A bounded load test of both APIs together, printed as JSON: zero failures expected, memory flat.

Starts ``covertype data-api`` and ``covertype inference-api`` (one worker each) on free loopback ports,
then runs ``--clients`` concurrent keep-alive clients for ``--duration`` seconds with a mixed workload:

* data API: ``GET /data`` for every group, ``GET /health``, now and then ``GET /restart_data_generation``;
* inference API: ``POST /predict`` (one record), ``POST /predict/batch`` (10 records), ``GET /model``,
  ``GET /ready``.

Every answer must be a 200; anything else (or a transport error) counts as a failure. The report gives,
per endpoint, requests, failures and p50/p99 latency, and the resident memory (RSS, server process and its
children) of each server at start, middle and end. Loopback only; the servers are stopped at the end.

    uv run --frozen python benchmarks/load_test.py [--duration 60] [--clients 16] [--tracking-uri URI]

Without ``--tracking-uri`` the training pipeline trains a random forest on the shared sample in a temp store.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import AsyncExitStack, ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson
import psutil

from covertype.dataset import load_dataset
from covertype.processes import Service, unused_port
from covertype.schema import FEATURE_COLUMNS

SAMPLE_CSV = Path(__file__).resolve().parents[2] / "shared" / "data" / "covtype-sample-15k.csv"
HOST = "127.0.0.1"
GROUPS = 5
BATCH_RECORDS = 10


@dataclass(frozen=True)
class Call:
    """One kind of request of the workload, with its share of the traffic."""

    name: str
    api: str  # "data" or "inference"
    method: str
    path: str
    weight: int
    body: bytes | None = None
    params: dict[str, int] | None = None


def workload(records: list[dict[str, Any]]) -> list[Call]:
    """The mixed workload: polls of every group, health checks, rare restarts, predictions, model info."""
    data_calls = [
        Call(f"GET /data?group_number={g}", "data", "GET", "/data", 6, params={"group_number": g})
        for g in range(1, GROUPS + 1)
    ]
    return [
        *data_calls,
        Call("GET /health", "data", "GET", "/health", 8),
        Call("GET /restart_data_generation", "data", "GET", "/restart_data_generation", 1,
             params={"group_number": 1}),
        Call("POST /predict", "inference", "POST", "/predict", 30, body=orjson.dumps(records[0])),
        Call("POST /predict/batch", "inference", "POST", "/predict/batch", 10,
             body=orjson.dumps({"records": records[:BATCH_RECORDS]})),
        Call("GET /model", "inference", "GET", "/model", 5),
        Call("GET /ready", "inference", "GET", "/ready", 5),
    ]  # fmt: skip


@dataclass
class Tally:
    """Latencies (seconds) and failures per call name; a few failure samples for the report."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    failures: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    samples: list[str] = field(default_factory=list)

    def record(self, call: Call, elapsed: float, problem: str | None) -> None:
        self.latencies[call.name].append(elapsed)
        if problem is not None:
            self.failures[call.name] += 1
            if len(self.samples) < 5:
                self.samples.append(f"{call.name}: {problem}")


def rss_mb(pid: int) -> float:
    """Resident memory of a process and all its children, in MB."""
    process = psutil.Process(pid)
    processes = [process, *process.children(recursive=True)]
    total = 0
    for member in processes:
        try:
            total += member.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return round(total / 2**20, 1)


async def _client(
    clients: dict[str, httpx.AsyncClient], calls: list[Call], seed: int, stop_at: float, tally: Tally
) -> None:
    chooser = random.Random(seed)
    weights = [call.weight for call in calls]
    while time.monotonic() < stop_at:
        call = chooser.choices(calls, weights)[0]
        started = time.perf_counter()
        problem: str | None = None
        try:
            response = await clients[call.api].request(
                call.method,
                call.path,
                params=call.params,
                content=call.body,
                headers={"content-type": "application/json"} if call.body else None,
            )
            if response.status_code != 200:
                problem = f"HTTP {response.status_code}: {response.text[:200]}"
        except httpx.HTTPError as exc:
            problem = f"{type(exc).__name__}: {exc}"
        tally.record(call, time.perf_counter() - started, problem)


def drive(
    urls: dict[str, str], calls: list[Call], *, clients: int, duration: float, pids: dict[str, int]
) -> tuple[Tally, dict[str, dict[str, float]]]:
    """Run ``clients`` clients over ``calls`` (of the APIs in ``urls``) for ``duration`` seconds.

    Returns what they saw and the RSS of each server in ``pids`` at start, middle and end.
    """
    return asyncio.run(_drive(urls, calls, clients=clients, duration=duration, pids=pids))


async def _drive(
    urls: dict[str, str], calls: list[Call], *, clients: int, duration: float, pids: dict[str, int]
) -> tuple[Tally, dict[str, dict[str, float]]]:
    tally = Tally()
    memory: dict[str, dict[str, float]] = {name: {"start": rss_mb(pid)} for name, pid in pids.items()}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with AsyncExitStack() as stack:
        http = {
            api: await stack.enter_async_context(httpx.AsyncClient(base_url=url, timeout=30, limits=limits))
            for api, url in urls.items()
        }
        stop_at = time.monotonic() + duration
        tasks = [asyncio.create_task(_client(http, calls, seed, stop_at, tally)) for seed in range(clients)]
        await asyncio.sleep(duration / 2)
        for name, pid in pids.items():
            memory[name]["middle"] = rss_mb(pid)
        await asyncio.gather(*tasks)
    for name, pid in pids.items():
        memory[name]["end"] = rss_mb(pid)
    return tally, memory


def summary(tally: Tally, duration: float) -> dict[str, Any]:
    """Totals and per-endpoint requests, failures and latency percentiles (ms)."""
    endpoints = {
        name: {
            "requests": len(latencies),
            "failures": tally.failures.get(name, 0),
            "p50_ms": round(float(np.percentile(latencies, 50)) * 1000, 2),
            "p99_ms": round(float(np.percentile(latencies, 99)) * 1000, 2),
        }
        for name, latencies in sorted(tally.latencies.items())
    }
    requests = sum(entry["requests"] for entry in endpoints.values())
    everything = [latency for latencies in tally.latencies.values() for latency in latencies]
    return {
        "requests": requests,
        "failures": sum(tally.failures.values()),
        "requests_per_second": round(requests / duration, 1),
        "p50_ms": round(float(np.percentile(everything, 50)) * 1000, 2),
        "p99_ms": round(float(np.percentile(everything, 99)) * 1000, 2),
        "failure_samples": tally.samples,
        "endpoints": endpoints,
    }


@contextmanager
def serving(subcommand: str, env: dict[str, str], health: str, workdir: Path) -> Iterator[Service]:
    """``covertype <subcommand>`` on a free loopback port, healthy; its whole group stopped at the end."""
    port = unused_port(HOST)
    service = Service(
        name=subcommand,
        command=[
            str(Path(sys.executable).parent / "covertype"),
            subcommand,
            "--host",
            HOST,
            "--port",
            str(port),
        ],
        health_url=f"http://{HOST}:{port}{health}",
        port=port,
        env=env,
        log_path=workdir / f"{subcommand}.log",
        start_timeout=180,
    )
    with service:
        yield service


def base_url(service: Service) -> str:
    return f"http://{HOST}:{service.port}"


def sample_records(sample: Path = SAMPLE_CSV, rows: int = BATCH_RECORDS) -> list[dict[str, Any]]:
    """The first ``rows`` records of the sample as JSON-ready feature dicts."""
    frame = load_dataset(sample)[list(FEATURE_COLUMNS)].head(rows)
    return [
        {column: (value if isinstance(value, str) else int(value)) for column, value in row.items()}
        for row in frame.to_dict("records")
    ]


def run_load_test(
    *, tracking_uri: str, workdir: Path, duration: float = 60.0, clients: int = 16, sample: Path = SAMPLE_CSV
) -> dict[str, Any]:
    """Start both APIs (inference on ``tracking_uri``'s champion), load them, stop them; the report."""
    records = sample_records(sample)
    common = {"COVERTYPE_DATA_DIR": str(workdir), "PATH": os.environ["PATH"]}
    data_env = {
        **common,
        "COVERTYPE_DATA_SOURCE": str(sample),
        "COVERTYPE_STATE_PATH": str(workdir / "data-api-state.sqlite"),
        "COVERTYPE_GROUPS": str(GROUPS),
        "COVERTYPE_BATCHES": "10",
        "COVERTYPE_BATCH_INTERVAL": str(max(duration / 5, 1.0)),  # batches advance, never run out
    }
    inference_env = {**common, "MLFLOW_TRACKING_URI": tracking_uri}
    with ExitStack() as stack:
        data = stack.enter_context(serving("data-api", data_env, "/health", workdir))
        inference = stack.enter_context(serving("inference-api", inference_env, "/ready", workdir))
        urls = {"data": base_url(data), "inference": base_url(inference)}
        pids = {"data-api": data.process.pid, "inference-api": inference.process.pid}  # type: ignore[union-attr]
        tally, memory = drive(urls, workload(records), clients=clients, duration=duration, pids=pids)
    return {"duration_s": duration, "clients": clients, **summary(tally, duration), "rss_mb": memory}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients")
    parser.add_argument("--tracking-uri", help="MLflow registry whose covertype@champion is served")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="covertype-load-") as tmp:
        workdir = Path(tmp)
        tracking_uri = args.tracking_uri
        if tracking_uri is None:
            sys.path.insert(0, str(Path(__file__).parent))
            from bench_inference import _train_champion

            _train_champion(workdir, "random_forest", time_budget=5.0)
            tracking_uri = f"sqlite:///{workdir / 'mlflow.db'}"
        report = run_load_test(
            tracking_uri=tracking_uri, workdir=workdir, duration=args.duration, clients=args.clients
        )
    sys.stdout.write(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode() + "\n")
    if report["failures"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
