"""Benchmark of ``covertype up`` on one machine: memory after start and during a training, batch lag.

Starts ``covertype up`` (every service, on free ports) on the 15,000-row sample with 30 s batches, all of each
batch's rows (``COVERTYPE_SAMPLE_FRACTION=1``, 20 batches of 750 rows). The first stored batch starts the
first training (no champion yet is a reason to train), with every default candidate; batches keep coming
while it runs. Read through ``GET /groups``, the store and Airflow's REST API, it records:

* ``pss_after_start_mb``: the proportional set size (``/proc/<pid>/smaps_rollup``) summed over the process
  tree of ``covertype up``, 5 s after it printed "covertype is up"; ``processes_after_start`` with it,
  ``local_executor_workers`` and ``mlflow_job_consumers`` among them;
* ``pss_peak_training_mb``: the largest such sum, sampled every 2 s while that training run runs;
* ``lag_s``: for each batch, seconds from its window opening (``GET /groups``) to its rows being stored
  (whole seconds, cut off), and ``max_lag_during_training_s`` over the batches whose window opened while
  the training ran.

Goals (issue 21): under 2 GB after start, under 5 s of lag while a training runs.

    uv run --frozen python benchmarks/bench_local_stack.py [--time-budget 10]

Writes ``benchmarks/results/local_stack.json``.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # the helpers the local-stack tests watch the stack with

from results_file import write_results  # noqa: E402

from covertype.processes import unused_port  # noqa: E402
from support.local_stack import (  # noqa: E402
    AirflowRest,
    GroupWatch,
    command_lines,
    local_executor_workers,
    process_tree,
    pss_bytes,
    read_until,
    stored_batches,
    up_command,
)

SAMPLE = REPO.parent / "shared" / "data" / "covtype-sample-15k.csv"
INTERVAL, BATCHES = 30.0, 20  # more batches than the run needs: it never waits on the last one
GOAL_PSS_MB, GOAL_LAG_S = 2048, 5.0
MB = 1024**2


def stack_env(data_dir: Path, time_budget: float) -> dict[str, str]:
    """The user's environment without our settings, plus the benchmark's (one training: the first)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COVERTYPE_", "MLFLOW_", "AIRFLOW"))}
    return env | {
        "COVERTYPE_DATA_DIR": str(data_dir),
        "COVERTYPE_DATA_SOURCE": str(SAMPLE),
        "COVERTYPE_BATCH_INTERVAL": str(INTERVAL),
        "COVERTYPE_BATCHES": str(BATCHES),
        "COVERTYPE_GROUPS": "1",
        "COVERTYPE_SAMPLE_FRACTION": "1",
        "COVERTYPE_TRAIN_TIME_BUDGET": str(time_budget),
        "COVERTYPE_MIN_NEW_ROWS": "1000000",  # after the first training, no signal fires
        "COVERTYPE_ACCURACY_DROP": "1",
        "COVERTYPE_DRIFT_THRESHOLD": "1000",
    }


def tree_figures(pid: int) -> dict[str, Any]:
    """PSS and process counts of the tree under ``pid`` right now."""
    pids = process_tree(pid)
    lines = command_lines(pids)
    return {
        "pss_mb": round(pss_bytes(pids) / MB),
        "processes": len(pids),
        "local_executor_workers": local_executor_workers(pids),
        "mlflow_job_consumers": sum("huey_consumer" in line for line in lines),
    }


def run(time_budget: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-local-stack-") as tmp:
        ports = [unused_port() for _ in range(5)]
        process = subprocess.Popen(
            up_command(ports, REPO / "dags"),
            env=stack_env(Path(tmp) / "data", time_budget),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=tmp,
        )
        watch = GroupWatch(f"http://127.0.0.1:{ports[0]}")
        store = Path(tmp) / "data" / "covertype.db"

        def start_watch(line: str) -> None:
            if "data API ready" in line:
                watch.start()

        try:
            output = read_until(process, "Press Ctrl-C", timeout=600, on_line=start_watch)
            if "covertype is up" not in output:
                raise SystemExit(f"covertype up did not start:\n{output}")
            time.sleep(5)  # Airflow's last parts (workers, parser) appear just after its API answers
            after_start = tree_figures(process.pid)
            password = output.split("login admin / ", 1)[1].split(")", 1)[0]
            airflow = AirflowRest(f"http://127.0.0.1:{ports[3]}", password)
            while not (runs := airflow.runs("covertype_train")):
                time.sleep(2)
            run_id = next(iter(runs))
            began = datetime.now(UTC).replace(tzinfo=None)
            peak = after_start
            while (state := airflow.run_state("covertype_train", run_id)) not in ("success", "failed"):
                sample = tree_figures(process.pid)
                peak = max(peak, sample, key=lambda figures: figures["pss_mb"])
                time.sleep(2)
            ended = datetime.now(UTC).replace(tzinfo=None)
            opened = len(watch.announced)
            deadline = time.monotonic() + 3 * INTERVAL
            while len(watch.announced) == opened and time.monotonic() < deadline:
                time.sleep(2)  # the first batch after the training, too
            time.sleep(15)
            lags = watch.lags(stored_batches(store))
        finally:
            watch.stop.set()
            process.send_signal(signal.SIGINT)
            process.wait(timeout=120)
    during = [lag for batch, lag in lags.items() if began <= watch.announced[batch - 1] <= ended]
    return {
        "interval_s": INTERVAL,
        "sample_fraction": 1.0,
        "rows_per_batch": 15_000 // BATCHES,
        "train_time_budget_s": time_budget,
        "training_state": state,
        "training_seconds": round((ended - began).total_seconds()),
        "pss_after_start_mb": after_start["pss_mb"],
        "processes_after_start": after_start["processes"],
        "local_executor_workers": after_start["local_executor_workers"],
        "mlflow_job_consumers": after_start["mlflow_job_consumers"],
        "pss_peak_training_mb": peak["pss_mb"],
        "processes_at_peak": peak["processes"],
        "lag_s": {str(batch): lag for batch, lag in sorted(lags.items())},
        "max_lag_during_training_s": max(during, default=None),
        "batches_during_training": len(during),
        "goal_pss_after_start_mb": GOAL_PSS_MB,
        "goal_lag_s": GOAL_LAG_S,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--time-budget",
        type=float,
        default=10.0,
        help="seconds of search per training, shared by the candidates",
    )
    args = parser.parse_args()
    load_before = list(os.getloadavg())
    figures = run(args.time_budget)
    path = write_results("local_stack", figures, load_before=load_before)
    print(path.read_text())


if __name__ == "__main__":
    main()
