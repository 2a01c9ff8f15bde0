"""Refit threads: is a second thread worth it when the winner is refit on every training row?

The refit runs alone, after the searches, so :func:`covertype.training.candidates.refit` may use more than
one thread (``COVERTYPE_REFIT_THREADS``, default: the CPUs the process may use). This measures every
candidate's refit with its default parameters (the search's first trial) on 1 thread and on ``--threads``,
side by side in one run, on a full-size stand-in: ``--rows`` distinct near-copies of the shared sample (as
:func:`covertype.dataset.distinct_copies` makes them; time only, their accuracy means nothing).

    uv run --frozen python benchmarks/bench_refit_threads.py                  # 464,810 rows, 1 vs 2 threads
    uv run --frozen python benchmarks/bench_refit_threads.py --rows 20000 --candidates logreg   # a smoke run

Writes ``benchmarks/results/refit_threads.json``: per candidate, the seconds on each thread count and the
speed-up. Run it on a quiet machine: a second thread only pays when a second core is free.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from covertype.dataset import distinct_copies, load_dataset
from covertype.schema import FEATURE_COLUMNS, TARGET_COLUMN
from covertype.training.candidates import CANDIDATES, refit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results_file import write_results  # noqa: E402

SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "data" / "covtype-sample-15k.csv"
#: The training rows of the last retrain at fraction 1.0: 80 % of the 581,012 rows.
FULL_TRAIN_ROWS = 464_810


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=FULL_TRAIN_ROWS, help="training rows")
    parser.add_argument("--threads", type=int, default=2, help="the thread count compared with one")
    parser.add_argument("--candidates", nargs="*", default=list(CANDIDATES), choices=list(CANDIDATES))
    args = parser.parse_args()
    load_before = list(os.getloadavg())
    frame = distinct_copies(load_dataset(SAMPLE), args.rows)
    features, target = frame[list(FEATURE_COLUMNS)], frame[TARGET_COLUMN]
    results = {}
    for name in args.candidates:
        seconds = {}
        for threads in (1, args.threads):
            fitted = refit(name, {}, features, target, seed=42, threads=threads)
            seconds[threads] = round(fitted.seconds, 1)
            print(f"{name}: {threads} thread(s) {fitted.seconds:.1f} s", flush=True)
        results[name] = {
            "seconds_by_threads": {str(threads): value for threads, value in seconds.items()},
            "speed_up": round(seconds[1] / seconds[args.threads], 2),
        }
    figures = {"train_rows": args.rows, "threads_compared": [1, args.threads], "candidates": results}
    print(write_results("refit_threads", figures, load_before=load_before))


if __name__ == "__main__":
    main()
