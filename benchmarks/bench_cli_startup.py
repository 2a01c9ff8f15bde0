"""Benchmark of the ``covertype`` command's start-up: ``--help`` and ``ingest`` before and after issue 24.

``covertype ingest`` stored a batch in about a second, yet took 8-9 s: most of it went to importing MLflow
and opening (creating) its SQLAlchemy store, only to learn that no champion existed yet. This measures, in
the same run and the same virtualenv, the source of ``--before`` (default d0b9950, the main commit before
the change; its ``src/`` extracted with ``git archive`` and put first on ``PYTHONPATH``) against this tree:

* ``help_s``: wall time of ``covertype --help``;
* ``ingest_s``: wall time of ``covertype ingest`` with no champion, each run in a fresh data folder (SQLite
  store, local MLflow store, as the tests have them) against one real data API (``covertype data-api`` on
  a free port, on the shared 15,000-row sample, every row of a batch: 1,500 rows a poll);
* ``importtime``: ``python -X importtime`` of each command once, its top-level imports with the largest
  cumulative time (what the command imported, each with everything below it) and their sum.

The runs alternate before and after, so that other load on the machine hits both alike; each side reports
its runs, min and median. Goal (issue 24): ``covertype ingest`` takes at most half of its time before.

    uv run --frozen python benchmarks/bench_cli_startup.py [--runs 5] [--before d0b9950]

Writes ``benchmarks/results/cli_startup.json``.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
from results_file import write_results

from covertype.processes import Service, unused_port

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO.parent / "shared" / "data" / "covtype-sample-15k.csv"
COVERTYPE = str(Path(sys.executable).parent / "covertype")
BEFORE = "d0b9950"
SIDES = ("before", "after")
TOP_IMPORTS = 12


def source_tree(commit: str, folder: Path) -> Path:
    """The package source of ``commit`` (``src/``) extracted under ``folder``; its ``src`` path."""
    archive = subprocess.run(
        ["git", "archive", "--format=tar", commit, "src"], cwd=REPO, capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    return folder / "src"


def clean_environ() -> dict[str, str]:
    """This process's environment without any setting, so that only the ones given here count."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("COVERTYPE_", "MLFLOW_", "PYTHONPATH"))}


def side_environ(side: str, before_src: Path, data_api_url: str, data_dir: Path) -> dict[str, str]:
    """The environment of one command run: the side's source first on the path, a fresh data folder."""
    env = clean_environ() | {
        "COVERTYPE_DATA_DIR": str(data_dir),
        "COVERTYPE_DATA_API_URL": data_api_url,
        "COLUMNS": "100",
    }
    return env | {"PYTHONPATH": str(before_src)} if side == "before" else env


def timed(
    command: list[str], env: dict[str, str], cwd: Path
) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=300)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited with {done.returncode}:\n{done.stderr[-2000:]}")
    return elapsed, done


def top_imports(stderr: str) -> dict[str, Any]:
    """The top-level entries of ``-X importtime`` output (one nesting level), largest cumulative first."""
    entries = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        _, cumulative, name = line.removeprefix("import time:").split("|")
        if not name.startswith("  "):  # nested imports are indented below their importer
            entries.append((name.strip(), int(cumulative) / 1e6))
    entries.sort(key=lambda entry: -entry[1])
    return {
        "total_s": round(sum(seconds for _, seconds in entries), 3),
        "top": [[name, round(seconds, 3)] for name, seconds in entries[:TOP_IMPORTS]],
    }


def import_times(args: list[str], env: dict[str, str]) -> dict[str, Any]:
    """``covertype <args>`` run once under ``python -X importtime``: its top-level imports."""
    command = [sys.executable, "-X", "importtime", "-c", "from covertype.cli import main; main()", *args]
    return top_imports(timed(command, env, Path(env["COVERTYPE_DATA_DIR"]).parent)[1].stderr)


def summary(seconds: list[float]) -> dict[str, Any]:
    return {
        "runs_s": [round(s, 3) for s in seconds],
        "min_s": round(min(seconds), 3),
        "median_s": round(statistics.median(seconds), 3),
    }


def run(runs: int, before: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="covertype-bench-cli-") as scratch:
        root = Path(scratch)
        before_src = source_tree(before, root / "before")
        port = unused_port()
        api_env = {
            "COVERTYPE_DATA_SOURCE": str(SAMPLE),
            "COVERTYPE_DATA_DIR": str(root / "data-api"),
            "COVERTYPE_GROUPS": "1",
            "COVERTYPE_SAMPLE_FRACTION": "1",
            "COVERTYPE_BATCH_INTERVAL": "86400",  # batch 1 throughout: every fresh store gets the same rows
        }
        data_api = Service(
            "data API",
            [COVERTYPE, "data-api", "--host", "127.0.0.1", "--port", str(port)],
            f"http://127.0.0.1:{port}/health",
            port,
            env=clean_environ() | api_env,
            log_path=root / "data-api.log",
        )
        url = f"http://127.0.0.1:{port}"
        wall: dict[str, dict[str, list[float]]] = {"help": {}, "ingest": {}}
        ingested: dict[str, Any] = {}
        data_api.start()
        try:
            data_api.wait_healthy(180)
            for index in range(runs):
                for side in SIDES:
                    env = side_environ(side, before_src, url, root / f"{side}-{index}")
                    seconds, _ = timed([COVERTYPE, "--help"], env, root)
                    wall["help"].setdefault(side, []).append(seconds)
                    seconds, done = timed([COVERTYPE, "ingest"], env, root)
                    wall["ingest"].setdefault(side, []).append(seconds)
                    ingested[side] = orjson.loads(done.stdout)
            imports = {
                command: {
                    side: import_times(
                        args, side_environ(side, before_src, url, root / f"{side}-x-{command}")
                    )
                    for side in SIDES
                }
                for command, args in (("help", ["--help"]), ("ingest", ["ingest"]))
            }
        finally:
            data_api.stop()
    for side in SIDES:  # both sides did the same work: the batch stored, no champion to score it
        assert ingested[side]["rows_inserted"] == ingested[side]["rows_received"] > 0, ingested
        assert ingested[side]["evaluation"]["status"] == "skipped", ingested
    figures: dict[str, Any] = {
        "before_commit": before,
        "runs": runs,
        "rows_per_poll": ingested["after"]["rows_inserted"],
    }
    for command, sides in wall.items():
        figures[f"{command}_s"] = {side: summary(sides[side]) for side in SIDES}
        figures[f"{command}_s"]["after_over_before_median"] = round(
            statistics.median(sides["after"]) / statistics.median(sides["before"]), 3
        )
    figures["importtime"] = imports
    figures["goal"] = "covertype ingest (no champion): after <= half of before (medians)"
    figures["goal_met"] = figures["ingest_s"]["after_over_before_median"] <= 0.5
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=5, help="runs of each command on each side")
    parser.add_argument("--before", default=BEFORE, help="commit whose source is the 'before' side")
    args = parser.parse_args()
    load_before = list(os.getloadavg())
    figures = run(args.runs, args.before)
    path = write_results("cli_startup", figures, load_before=load_before)
    print(path.read_text())


if __name__ == "__main__":
    main()
