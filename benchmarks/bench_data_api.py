"""Benchmark of ``GET /data``: the project's data API against the course-style baseline, in one run.

The 15,000-row sample is replicated to the full 581,012 rows in a temporary directory (nothing is written
into the repository). Each server runs alone (one uvicorn worker unless ``--workers``) while 8 client
threads poll it (each client its own group), then the next. Also measures ``load_dataset`` on the
full-size raw file.

    uv run --frozen python benchmarks/bench_data_api.py [--seconds 10] [--clients 8]

Prints one JSON document.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import orjson

from covertype.dataset import load_dataset
from covertype.processes import Service, unused_port

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO.parent / "shared" / "data" / "covtype-sample-15k.csv"
FULL_ROWS = 581_012


def replicate(sample: Path, rows: int, target: Path) -> Path:
    """The sample's data lines repeated until ``rows`` lines, under the sample's header."""
    header, *lines = sample.read_text().splitlines()
    with target.open("w") as out:
        out.write(header + "\n")
        out.writelines(line + "\n" for line in itertools.islice(itertools.cycle(lines), rows))
    return target


@contextmanager
def serving(command: list[str], env: dict[str, str], port: int, log: Path) -> Iterator[str]:
    """A server subprocess (own process group), healthy before the yield, stopped after."""
    url, name = f"http://127.0.0.1:{port}", Path(command[0]).name
    with Service(name, command, f"{url}/health", port, env=env, log_path=log, start_timeout=180):
        yield url


def measure(url: str, *, clients: int, seconds: float) -> dict[str, float]:
    """Requests/s and latency percentiles of ``GET /data`` with ``clients`` threads, one group each."""
    for group in range(1, clients + 1):  # start every group's batch 1 (and fill any cache) before timing
        httpx.get(f"{url}/data", params={"group_number": group}, timeout=60).raise_for_status()
    latencies: list[float] = []
    lock = threading.Lock()
    start_line = threading.Barrier(clients)

    def client(group: int) -> None:
        mine = []
        with httpx.Client(base_url=url, timeout=60) as http:
            start_line.wait()
            deadline = time.perf_counter() + seconds
            while time.perf_counter() < deadline:
                sent = time.perf_counter()
                response = http.get("/data", params={"group_number": group})
                response.raise_for_status()
                mine.append(time.perf_counter() - sent)
        with lock:
            latencies.extend(mine)

    began = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, range(1, clients + 1)))
    elapsed = time.perf_counter() - began
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    return {
        "requests": len(latencies),
        "requests_per_second": round(len(latencies) / elapsed, 1),
        "p50_ms": round(cuts[49] * 1000, 1),
        "p99_ms": round(cuts[98] * 1000, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="polling time per server")
    parser.add_argument("--clients", type=int, default=8, help="concurrent client threads (groups 1..N)")
    parser.add_argument("--rows", type=int, default=FULL_ROWS, help="rows of the replicated dataset")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers of the project's server")
    args = parser.parse_args()
    bin_dir = Path(sys.executable).parent

    with tempfile.TemporaryDirectory(prefix="bench-data-api-") as tmp:
        work = Path(tmp)
        raw = replicate(SAMPLE, args.rows, work / "covtype-full.csv")
        began = time.perf_counter()
        frame = load_dataset(raw)
        load_seconds = time.perf_counter() - began
        course = work / "covertype-course.csv"
        frame.to_csv(course, index=False)
        del frame

        port = unused_port()
        project_env = {
            "COVERTYPE_DATA_SOURCE": str(raw),
            "COVERTYPE_DATA_DIR": str(work),
            "COVERTYPE_STATE_PATH": str(work / "state.sqlite"),
        }
        command = [str(bin_dir / "covertype"), "data-api", "--port", str(port), f"--workers={args.workers}"]
        with serving(command, project_env, port, work / "project.log") as url:
            project = measure(url, clients=args.clients, seconds=args.seconds)
            body = httpx.get(f"{url}/data", params={"group_number": 1}).json()

        port = unused_port()
        command = [
            str(bin_dir / "uvicorn"), "baseline_data_api:create_app", "--factory",
            "--app-dir", str(REPO / "benchmarks"), "--port", str(port),
        ]  # fmt: skip
        with serving(command, {"BASELINE_DATA_FILE": str(course)}, port, work / "baseline.log") as url:
            baseline = measure(url, clients=args.clients, seconds=args.seconds)

    report = {
        "rows": args.rows,
        "load_dataset_seconds": round(load_seconds, 2),
        "clients": args.clients,
        "project_workers": args.workers,
        "baseline_workers": 1,
        "seconds_per_server": args.seconds,
        "rows_per_response": len(body["data"]),
        "project": project,
        "baseline": baseline,
        "speedup_requests_per_second": round(
            project["requests_per_second"] / baseline["requests_per_second"], 1
        ),
        "target": {"speedup_at_least": 5, "p99_ms_below": 50},
    }
    sys.stdout.write(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode() + "\n")


if __name__ == "__main__":
    main()
