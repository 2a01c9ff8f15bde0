"""Drift grid: how often the drift verdict flags clean batches, and how often it flags an Elevation shift,
by reference size and batch size.

For every cell (reference of ``--references`` rows x batch of ``--batches`` rows) and each of ``--repeats``
repetitions: a fresh reference is drawn from the sample and profiled (``build_profile``, as a trained version
logs it), a clean batch is drawn from the rows outside it (with replacement when the batch needs more than
half of them), and :func:`covertype.monitoring.drift.drift_report` judges it with the settings' defaults
(``COVERTYPE_DRIFT_THRESHOLD``, ``COVERTYPE_DRIFT_SIGNIFICANCE``). The same batch with Elevation moved by
each of ``--shifts`` metres is judged too. A cell reports:

* ``false_alarm_rate``: share of clean batches judged ``drifted``;
* ``detection_rate``: per shift, share of shifted batches judged ``drifted``;
* ``not_enough_rows_rate``: share without a verdict (batch or reference under ``DRIFT_MIN_ROWS``);
* ``fixed_psi_false_alarm_rate``: the baseline, the rule before issue 21 (largest PSI above the threshold,
  whatever the sizes), on the same clean batches;
* ``clean_psi_max``: the largest PSI of any feature on a clean batch of the cell.

    uv run --frozen python benchmarks/bench_drift_grid.py [--repeats 500] [--data covtype-sample-15k.csv]

Writes ``benchmarks/results/drift_grid.json`` (``results_file.write_results``) and prints a table on stderr.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from covertype.dataset import load_dataset
from covertype.monitoring.drift import drift_report
from covertype.monitoring.profile import build_profile
from covertype.settings import Settings
from covertype.store.quality import DRIFT_MIN_ROWS, DriftStatus

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results_file import write_results  # noqa: E402

SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "data" / "covtype-sample-15k.csv"


def draw_batch(pool: pd.DataFrame, rows: int, generator: np.random.Generator) -> pd.DataFrame:
    """``rows`` rows of ``pool``: without replacement while they are at most half of it, else with."""
    replace = rows > len(pool) // 2
    return pool.iloc[generator.choice(len(pool), size=rows, replace=replace)]


def measure_cell(
    frame: pd.DataFrame,
    reference_rows: int,
    batch_rows: int,
    *,
    repeats: int,
    shifts: list[float],
    settings: Settings,
    generator: np.random.Generator,
) -> dict[str, Any]:
    """The rates of one cell of the grid (see the module docstring)."""
    rule = {"threshold": settings.drift_threshold, "significance": settings.drift_significance}
    false_alarms = no_verdict = fixed_psi_alarms = 0
    detected = dict.fromkeys(shifts, 0)
    clean_psi_max = 0.0
    for _ in range(repeats):
        order = generator.permutation(len(frame))
        profile = build_profile(frame.iloc[order[:reference_rows]])
        clean = draw_batch(frame.iloc[order[reference_rows:]], batch_rows, generator)
        report = drift_report(profile, clean, **rule)
        false_alarms += report.status == DriftStatus.DRIFTED
        no_verdict += report.status == DriftStatus.NOT_ENOUGH_ROWS
        largest = max(report.feature_psi.values())
        fixed_psi_alarms += largest > settings.drift_threshold
        clean_psi_max = max(clean_psi_max, largest)
        for delta in shifts:
            shifted = clean.assign(Elevation=clean["Elevation"] + delta)
            detected[delta] += drift_report(profile, shifted, **rule).status == DriftStatus.DRIFTED
    return {
        "reference_rows": reference_rows,
        "batch_rows": batch_rows,
        "clean_batches": repeats,
        "false_alarm_rate": false_alarms / repeats,
        "not_enough_rows_rate": no_verdict / repeats,
        "fixed_psi_false_alarm_rate": fixed_psi_alarms / repeats,
        "clean_psi_max": round(clean_psi_max, 4),
        "detection_rate": {f"elevation_{delta:+g}m": detected[delta] / repeats for delta in shifts},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=SAMPLE, help="the dataset (read, never copied)")
    parser.add_argument("--references", type=int, nargs="+", default=[120, 1_000, 10_000])
    parser.add_argument("--batches", type=int, nargs="+", default=[150, 300, 1_000, 5_000])
    parser.add_argument("--shifts", type=float, nargs="+", default=[50.0, 100.0, 300.0])
    parser.add_argument("--repeats", type=int, default=500, help="clean batches per cell")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

    load_before, started = list(os.getloadavg()), time.monotonic()
    frame = load_dataset(args.data)
    settings = Settings()
    generator = np.random.default_rng(args.seed)
    cells = []
    for reference_rows in args.references:
        for batch_rows in args.batches:
            cell = measure_cell(
                frame,
                reference_rows,
                batch_rows,
                repeats=args.repeats,
                shifts=args.shifts,
                settings=settings,
                generator=generator,
            )
            cells.append(cell)
            print(
                f"reference {reference_rows:>6} batch {batch_rows:>5}: false alarms "
                f"{cell['false_alarm_rate']:.3f} (fixed PSI rule {cell['fixed_psi_false_alarm_rate']:.3f}), "
                f"detected {cell['detection_rate']}",
                file=sys.stderr,
            )
    figures = {
        "data": args.data.name,
        "rows": len(frame),
        "seed": args.seed,
        "drift_threshold": settings.drift_threshold,
        "drift_significance": settings.drift_significance,
        "min_rows": DRIFT_MIN_ROWS,
        "seconds": round(time.monotonic() - started, 1),
        "cells": cells,
    }
    print(write_results("drift_grid", figures, load_before=load_before), file=sys.stderr)


if __name__ == "__main__":
    main()
