"""Where a benchmark's figures are kept: ``benchmarks/results/<name>.json``, the one place the docs quote.

Every file carries the context that makes its figures comparable: the machine (CPU model and count, memory),
the load average before and after the run, the date, and the commit (with ``+dirty`` when the tree had
uncommitted changes) that was measured.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

import orjson

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    return None


def _commit() -> str:
    root = Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head}+dirty" if dirty else head


def machine() -> dict[str, Any]:
    """What the figures were measured on, and how busy it was when this is called."""
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": _memory_gib(),
        "python": platform.python_version(),
        "load_average": [round(value, 2) for value in os.getloadavg()],
    }


def write_results(name: str, figures: dict[str, Any], *, load_before: list[float] | None = None) -> Path:
    """Write ``figures`` to ``benchmarks/results/<name>.json`` with the machine, load, date and commit.

    ``load_before`` is the load average taken when the run began (``os.getloadavg()``); the one at the
    end is taken here.
    """
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    context = machine()
    document = {
        "benchmark": name,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "commit": _commit(),
        "machine": context,
        "load_average_before": [round(value, 2) for value in load_before] if load_before else None,
        "load_average_after": context["load_average"],
        "figures": figures,
    }
    path = RESULTS_DIR / f"{name}.json"
    path.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n")
    return path
