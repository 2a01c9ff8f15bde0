"""Scale benchmark: `covertype train`, as users run it, on stores of 12k to 465k training rows.

For each size a fresh data directory gets a SQLite store holding ``rows / (1 - holdout)`` distinct rows
(copies of the shared sample, each a metre further from a road, as the full-size tests make them), and
``covertype train`` runs in its own process with the shipped defaults. Measured per size:

* the whole command's wall time and its peak resident memory (sampled every 0.2 s, the process and its
  children);
* per candidate, from its nested MLflow run: the search's seconds, the refit's seconds (0 for a
  candidate that was screened out, not refit), validation and holdout accuracy, trials.

``--tree`` runs another checkout's code (its ``src`` first on ``PYTHONPATH``, this environment's
libraries), which is how the design before a change is measured side by side with the one after:

    uv run --frozen python benchmarks/bench_scale.py --design after
    git worktree add /tmp/before <commit>
    uv run --frozen python benchmarks/bench_scale.py --design before --tree /tmp/before
    uv run --frozen python benchmarks/bench_scale.py --plot       # images/scale.png from both files

Writes ``benchmarks/results/scale_<design>.json``. The rows are near-copies of each other, so their
accuracies measure nothing; `bench_accuracy.py` measures accuracy on the real sample.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import orjson
import psutil

from covertype.dataset import distinct_copies, load_dataset
from covertype.store.batches import store_batch, utc_now
from covertype.store.engine import create_store_engine
from covertype.store.row_hash import row_hashes

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results_file import RESULTS_DIR, write_results  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO.parent / "shared" / "data" / "covtype-sample-15k.csv"
IMAGE = REPO / "images" / "scale.png"
#: Training rows measured: the sample's size, then 1, 2, 5 and 8 of the full dataset's 10 batches.
TRAIN_ROWS = (12_000, 58_101, 116_202, 290_505, 464_810)
HOLDOUT_FRACTION = 0.2
BATCH_ROWS = 58_101


def fill_store(data_dir: Path, rows: int) -> int:
    """A SQLite store in ``data_dir`` holding ``rows`` distinct rows, stored batch by batch."""
    frame = distinct_copies(load_dataset(SAMPLE), rows)
    frame = frame.assign(row_hash=row_hashes(frame))
    engine = create_store_engine(f"sqlite:///{data_dir / 'covertype.db'}")
    try:
        for batch, start in enumerate(range(0, rows, BATCH_ROWS), start=1):
            chunk = frame.iloc[start : start + BATCH_ROWS]
            store_batch(
                engine,
                chunk,
                rejected=[],
                run_id=uuid.uuid4().hex,
                group_number=1,
                batch_number=batch,
                received=len(chunk),
                started_at=utc_now(),
            )
    finally:
        engine.dispose()
    return rows


class PeakMemory:
    """Largest resident memory of a process and its children, sampled in a thread."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        self.process, self.interval, self.peak_bytes = psutil.Process(pid), interval, 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._done.is_set():
            try:
                tree = [self.process, *self.process.children(recursive=True)]
                self.peak_bytes = max(self.peak_bytes, max(p.memory_info().rss for p in tree))
            except psutil.Error:
                pass
            self._done.wait(self.interval)

    def stop(self) -> float:
        self._done.set()
        self._thread.join()
        return self.peak_bytes / 1e9


def run_train(data_dir: Path, tree: Path, overrides: dict[str, str]) -> dict[str, Any]:
    """``covertype train`` of ``tree``'s code with the shipped defaults (but ``overrides``); its summary,
    time and memory."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("COVERTYPE_", "MLFLOW_"))}
    env |= {
        "COVERTYPE_DATA_DIR": str(data_dir),
        "PYTHONPATH": str(tree / "src"),
        "COLUMNS": "200",
    } | overrides
    command = [sys.executable, "-c", "from covertype.cli import app; app()", "train"]
    started = time.monotonic()
    process = subprocess.Popen(command, env=env, cwd=data_dir, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    memory = PeakMemory(process.pid)
    out, err = process.communicate()
    seconds, peak_gb = time.monotonic() - started, memory.stop()
    if process.returncode != 0:
        raise RuntimeError(f"covertype train exited {process.returncode}: {err.decode()[-3000:]}")
    return {"summary": orjson.loads(out), "seconds": round(seconds, 1), "peak_rss_gb": round(peak_gb, 2)}


def candidate_runs(data_dir: Path, parent_run_id: str) -> tuple[int, list[dict[str, Any]]]:
    """The training rows, and each candidate's nested run: search and refit seconds, accuracies, trials."""
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{data_dir / 'mlflow.db'}")
    parent = client.get_run(parent_run_id)
    children = client.search_runs(
        [parent.info.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{parent_run_id}'"
    )
    rows = []
    for run in children:
        metrics, params = run.data.metrics, run.data.params
        rows.append(
            {
                "candidate": params.get("candidate", run.info.run_name),
                "status": run.info.status,
                "search_seconds": round(metrics.get("search_seconds", math.nan), 1),
                "refit_seconds": round(metrics.get("training_seconds", 0.0), 1),
                "trials": metrics.get("search_trials"),
                "validation_accuracy": metrics.get("validation_accuracy"),
                "holdout_accuracy": metrics.get("holdout_accuracy"),
            }
        )
    return int(parent.data.tags["covertype.train_rows"]), sorted(rows, key=lambda row: str(row["candidate"]))


def measure(design: str, tree: Path, sizes: list[int], overrides: dict[str, str]) -> Path:
    load_before = list(os.getloadavg())
    points = []
    for train_rows in sizes:
        stored = round(train_rows / (1 - HOLDOUT_FRACTION))
        with tempfile.TemporaryDirectory(prefix="covertype-scale-") as scratch:
            data_dir = Path(scratch)
            fill_store(data_dir, stored)
            load = os.getloadavg()[0]
            run = run_train(data_dir, tree, overrides)
            summary = run["summary"]
            train_rows_seen, candidates = candidate_runs(data_dir, summary["parent_run_id"])
            point = {
                "tree_commit": _tree_commit(tree),
                "stored_rows": stored,
                "train_rows": train_rows_seen,
                "seconds": run["seconds"],
                "peak_rss_gb": run["peak_rss_gb"],
                "load_average_at_start": round(load, 2),
                "best_candidate": summary["registered"]["candidate"],
                "candidates": candidates,
            }
        points.append(point)
        print(orjson.dumps(point).decode(), flush=True)
    figures = {"design": design, "tree_commit": _tree_commit(tree), "overrides": overrides}
    return write_results(
        f"scale_{design}", figures | {"points": _merged(design, points)}, load_before=load_before
    )


def _merged(design: str, points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``points`` and the earlier run's points of other sizes (a size measured again replaces its own)."""
    path = RESULTS_DIR / f"scale_{design}.json"
    earlier = orjson.loads(path.read_bytes())["figures"]["points"] if path.exists() else []
    measured = {point["stored_rows"] for point in points}
    kept = [point for point in earlier if point["stored_rows"] not in measured]
    return sorted(kept + points, key=lambda point: point["stored_rows"])


def _tree_commit(tree: Path) -> str:
    result = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=tree, capture_output=True, text=True)
    return result.stdout.strip() or "unknown"


def plot() -> Path:
    """``images/scale.png``: seconds and peak GB against training rows, log-log, before and after."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, NullFormatter, ScalarFormatter

    fig, (time_axis, memory_axis) = plt.subplots(1, 2, figsize=(11, 4.2))
    for design, style in (("before", "o--"), ("after", "s-")):
        path = RESULTS_DIR / f"scale_{design}.json"
        if not path.exists():
            continue
        points = orjson.loads(path.read_bytes())["figures"]["points"]
        rows = [point["train_rows"] for point in points]
        time_axis.plot(
            rows, [point["seconds"] for point in points], style, label=f"covertype train ({design})"
        )
        if design == "after":
            for key, label in (("search_seconds", "search, all candidates"), ("refit_seconds", "refit")):
                time_axis.plot(
                    rows,
                    [sum(c[key] or 0 for c in point["candidates"]) for point in points],
                    ":",
                    label=label,
                )
        memory_axis.plot(rows, [point["peak_rss_gb"] for point in points], style, label=design)
    time_axis.axhline(300, color="grey", linewidth=0.8)
    time_axis.text(12_000, 310, "batch interval, 300 s", color="grey", fontsize=8)
    memory_axis.axhline(3, color="grey", linewidth=0.8)
    memory_axis.text(12_000, 2.85, "limit, 3 GB", color="grey", fontsize=8)
    for axis, label in ((time_axis, "seconds"), (memory_axis, "peak resident memory (GB)")):
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.yaxis.set_major_formatter(ScalarFormatter())
        axis.yaxis.set_minor_formatter(NullFormatter())
        axis.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}"))
        axis.set_xlabel("training rows")
        axis.set_ylabel(label)
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize=8)
    memory_axis.set_yticks([1, 1.5, 2, 3])
    fig.suptitle("covertype train with its defaults, 2-core reference machine")
    fig.tight_layout()
    IMAGE.parent.mkdir(exist_ok=True)
    fig.savefig(IMAGE, dpi=110)
    return IMAGE


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--design", choices=("before", "after"), default="after")
    parser.add_argument(
        "--tree", type=Path, default=REPO, help="checkout whose code runs (default: this one)"
    )
    parser.add_argument("--rows", type=int, nargs="*", default=list(TRAIN_ROWS), help="training rows")
    parser.add_argument(
        "--set", action="append", default=[], metavar="VARIABLE=VALUE", help="not the default"
    )
    parser.add_argument("--plot", action="store_true", help="only draw images/scale.png from the results")
    args = parser.parse_args()
    if not args.plot:
        overrides = dict(item.split("=", 1) for item in args.set)
        print(measure(args.design, args.tree.resolve(), args.rows, overrides))
    print(plot())


if __name__ == "__main__":
    main()
