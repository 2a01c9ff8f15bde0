"""The accuracy-latency frontier: which models fit a 1,000-row batch budget, and how they do on unseen rows.

For each model setting, per seed: the shared sample is split as a user would test it (3,000 rows withheld
that training never sees, stratified), the setting is fitted on 80 % of the other 12,000 rows (what
``covertype train`` fits the winner on after holding out 20 %), exported to ONNX, and timed in ONNX Runtime
exactly as the latency gate times it (:func:`covertype.model.graph_latency.measure_latency`, the inference
API's one intra-op thread). Accuracy is on the withheld rows, also for the setting fitted on all 12,000
rows (what ``covertype train`` serves below ``COVERTYPE_FINAL_FIT_MAX_ROWS``).

    uv run --frozen python benchmarks/bench_frontier.py              # every setting, seeds 0 1 2
    uv run --frozen python benchmarks/bench_frontier.py --seeds 0 --settings et_40   # one quick point

Writes ``benchmarks/results/frontier.json``: per setting, the parameters, mean withheld accuracy (and per
seed), graph size and the latency figures (mean of the seeds' batch figures). Latency is a property of the
machine's load as much as of the model: run it on a quiet machine (the file keeps the load averages).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path
from typing import Any

import pandas as pd
from sklearn.model_selection import train_test_split

from covertype.dataset import load_dataset
from covertype.model.onnx_export import export_and_check
from covertype.schema import FEATURE_COLUMNS, TARGET_COLUMN
from covertype.training.candidates import build_pipeline

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results_file import write_results  # noqa: E402

SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "data" / "covtype-sample-15k.csv"
WITHHELD_ROWS = 3_000
HOLDOUT_SHARE = 0.2

#: Settings compared: (candidate, parameters over the candidate's defaults).
SETTINGS: dict[str, tuple[str, dict[str, Any]]] = {
    "et_75x3000 (default)": ("extra_trees", {}),
    "et_55x3000": ("extra_trees", {"n_estimators": 55}),
    "et_40x3000": ("extra_trees", {"n_estimators": 40}),
    "et_40x3000_entropy": ("extra_trees", {"n_estimators": 40, "criterion": "entropy"}),
    "et_40x1500": ("extra_trees", {"n_estimators": 40, "max_leaf_nodes": 1500}),
    "et_25x3000": ("extra_trees", {"n_estimators": 25}),
    "rf_40x3000": ("random_forest", {"n_estimators": 40}),
    "hgb (default)": ("hgb", {}),
    "lightgbm_100x31": ("lightgbm", {"n_estimators": 100, "num_leaves": 31}),
    "logreg (default)": ("logreg", {}),
}


def measure(name: str, params: dict[str, Any], seed: int, frame: pd.DataFrame) -> dict[str, float]:
    """Fit one setting on one seed's split; withheld accuracy, graph size and latency."""
    rest, withheld = train_test_split(
        frame, test_size=WITHHELD_ROWS, random_state=seed, stratify=frame[TARGET_COLUMN]
    )
    train, holdout = train_test_split(
        rest, test_size=HOLDOUT_SHARE, random_state=seed, stratify=rest[TARGET_COLUMN]
    )
    features = list(FEATURE_COLUMNS)
    pipeline = build_pipeline(name, params, seed=seed).fit(train[features], train[TARGET_COLUMN])
    graph, check = export_and_check(pipeline, holdout)
    if graph is None or check.latency is None:
        raise RuntimeError(f"{name} {params}: {check.reason}")
    accuracy = float((pipeline.predict(withheld[features]) == withheld[TARGET_COLUMN]).mean())
    every_row = build_pipeline(name, params, seed=seed).fit(rest[features], rest[TARGET_COLUMN])
    accuracy_every_row = float((every_row.predict(withheld[features]) == withheld[TARGET_COLUMN]).mean())
    return {
        "withheld_accuracy": accuracy,
        "withheld_accuracy_fit_on_every_row": accuracy_every_row,
        "size_mb": len(graph) / 1e6,
        "batch_ms": check.latency.batch_ms,
        "single_p50_ms": check.latency.single_p50_ms,
        "single_p99_ms": check.latency.single_p99_ms,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    args = parser.parse_args()
    load_before = list(os.getloadavg())
    frame = load_dataset(SAMPLE)
    results = {}
    for label in args.settings:
        name, params = SETTINGS[label]
        runs = [measure(name, params, seed, frame) for seed in args.seeds]
        summary = {key: round(statistics.mean(run[key] for run in runs), 4) for key in runs[0]}
        results[label] = {
            "candidate": name,
            "params": params,
            **summary,
            "withheld_accuracy_by_seed": [round(run["withheld_accuracy"], 4) for run in runs],
            "withheld_accuracy_fit_on_every_row_by_seed": [
                round(run["withheld_accuracy_fit_on_every_row"], 4) for run in runs
            ],
            "batch_ms_by_seed": [round(run["batch_ms"], 2) for run in runs],
        }
        print(f"{label}: {results[label]}", flush=True)
    figures = {
        "protocol": f"{WITHHELD_ROWS:,} rows withheld (stratified), fit on {1 - HOLDOUT_SHARE:.0%} of the "
        "rest, timed as the latency gate times it",
        "seeds": args.seeds,
        "settings": results,
    }
    print(write_results("frontier", figures, load_before=load_before))


if __name__ == "__main__":
    main()
