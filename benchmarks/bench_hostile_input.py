"""What both served APIs answer to oversized and padded input: status, bytes in, bytes out, time to answer.

Each API runs as users run it (``covertype data-api`` / ``covertype inference-api``, one uvicorn worker,
default settings, the inference API without a model: bodies are refused or validated before a model is
asked). Each case is sent ``--repeats`` times on a fresh connection; the median time is reported. The
batch at the record limit shows how much of ``COVERTYPE_MAX_BODY_BYTES`` a full batch takes.

    uv run --frozen python benchmarks/bench_hostile_input.py [--repeats 5]

Prints the figures as JSON and writes them to ``benchmarks/results/hostile_input.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
from bench_data_api import SAMPLE, serving
from results_file import write_results

from covertype.processes import unused_port
from covertype.schema import EXAMPLE_RECORD, NUMERIC_RANGES, SOIL_TYPES, WILDERNESS_AREAS
from covertype.settings import Settings

TEN_MB = 10 * 1024 * 1024
#: The widest value of every field: the longest record a batch can hold.
WIDEST = {
    **{column: max(bounds, key=lambda bound: len(str(bound))) for column, bounds in NUMERIC_RANGES.items()},
    "Wilderness_Area": max(WILDERNESS_AREAS, key=len),
    "Soil_Type": max(SOIL_TYPES, key=len),
}


@dataclass(frozen=True)
class Case:
    api: str
    method: str
    path: str
    name: str
    body: bytes | None = None
    chunked: bool = False

    def content(self) -> bytes | Iterator[bytes] | None:
        if self.body is None or not self.chunked:
            return self.body
        return (self.body[start : start + 65_536] for start in range(0, len(self.body), 65_536))


def cases() -> list[Case]:
    padded = b'{"padding": "' + b"x" * TEN_MB + b'"}'
    extra = json.dumps({**EXAMPLE_RECORD, "Comment": "x" * 100_000}).encode()
    bad_batch = json.dumps({"records": [{**EXAMPLE_RECORD, "Elevation": -1}] * 1_000}).encode()
    full_batch = json.dumps({"records": [WIDEST] * Settings().max_batch_records}, indent=4).encode()
    return [
        Case("inference", "POST", "/predict", "10 MB body with Content-Length", padded),
        Case("inference", "POST", "/predict", "10 MB body chunked", padded, chunked=True),
        Case("inference", "POST", "/predict", "100 KB extra field", extra),
        Case("inference", "POST", "/predict/batch", "1,000 records each with a bad Elevation", bad_batch),
        Case("inference", "POST", "/predict/batch", "max records, widest values, indented", full_batch),
        Case("data", "GET", "/data?group_number=1", "10 MB body with Content-Length", padded),
        Case("data", "GET", "/data?group_number=1", "10 MB body chunked", padded, chunked=True),
        Case("data", "GET", "/data?group_number=" + "9" * 12_000, "12 KB group_number"),
    ]


def measure(url: str, case: Case, repeats: int) -> dict[str, Any]:
    headers = {"content-type": "application/json"}
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        answer = httpx.request(
            case.method, url + case.path, content=case.content(), headers=headers, timeout=60
        )
        seconds.append(time.perf_counter() - started)
    return {
        "api": case.api,
        "request": f"{case.method} {case.path[:40]}",
        "case": case.name,
        "status": answer.status_code,
        "bytes_in": len(case.body or b"") + len(case.path),
        "bytes_out": len(answer.content),
        "median_ms": round(statistics.median(seconds) * 1000, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="requests per case")
    args = parser.parse_args()
    load_before = list(os.getloadavg())
    covertype = str(Path(sys.executable).parent / "covertype")
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-hostile-") as tmp:
        work = Path(tmp)
        env = {"COVERTYPE_DATA_DIR": str(work), "COVERTYPE_DATA_SOURCE": str(SAMPLE)}
        for api, command in (("data", "data-api"), ("inference", "inference-api")):
            port = unused_port()
            with serving([covertype, command, "--port", str(port)], env, port, work / f"{api}.log") as url:
                rows += [measure(url, case, args.repeats) for case in cases() if case.api == api]
    figures = {
        "max_body_bytes": Settings().max_body_bytes,
        "max_batch_records": Settings().max_batch_records,
        "repeats": args.repeats,
        "cases": rows,
    }
    write_results("hostile_input", figures, load_before=load_before)
    sys.stdout.write(orjson.dumps(figures, option=orjson.OPT_INDENT_2).decode() + "\n")


if __name__ == "__main__":
    main()
