"""Accuracy benchmark: the training pipeline's champion against LightGBM, tuned and with its defaults.

All models see the same training rows and are scored on the same held-out rows, in the same run. The
anchors take the raw columns (categories as LightGBM's native categoricals); the tuned anchor gets an
Optuna search (seeded TPE, the defaults first, the same validation share, no pruning) for the same time
budget as each candidate of the pipeline, over a practitioner's space without the pipeline's size and
latency budgets (up to 1,000 rounds of 255 leaves).
The champion is chosen exactly as ``covertype train`` chooses it: every candidate is searched for its
share of the training's time budget on at most ``--search-rows`` rows, the best validation accuracy
wins and is refit on every row, and only then is the held-out set scored. ``--per-candidate-budget S``
measures the design before screening (S seconds for each candidate, on all rows) side by side:

    uv run --frozen python benchmarks/bench_accuracy.py --no-anchors --seeds 42 1 2 \
        --results accuracy_screening
    uv run --frozen python benchmarks/bench_accuracy.py --no-anchors --seeds 42 1 2 \
        --per-candidate-budget 120 --results accuracy_per_candidate

Splits:
  --split hash      (default) the shared 15k sample, holdout = 20 % chosen by row_hash (as in training)
  --split standard  the full UCI data in file order: first 11,340 + 3,780 rows train + validation (both
                    models fit on these 15,120; the champion's search holds out its own validation share),
                    the remaining 565,892 rows are the test set (Blackard & Dean's protocol)

    uv run --frozen python benchmarks/bench_accuracy.py                     # shared sample
    uv run --frozen python benchmarks/bench_accuracy.py --split standard    # full data (scikit-learn
        download, or --data /path/covtype.data.gz)

Prints one JSON object (and with ``--results`` writes it to ``benchmarks/results/``). Native threads
(OpenMP) are capped at --threads for both models.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import lightgbm
import optuna
import pandas as pd
from sklearn.metrics import accuracy_score, f1_score
from threadpoolctl import threadpool_limits

from covertype.dataset import load_dataset
from covertype.schema import CATEGORICAL_COLUMNS, FEATURE_COLUMNS, TARGET_COLUMN
from covertype.settings import Settings
from covertype.store.row_hash import row_hashes
from covertype.training.candidates import CANDIDATES, refit, search_candidate, validation_split
from covertype.training.evaluation import evaluate
from covertype.training.split import split_by_hash

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results_file import write_results  # noqa: E402

SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "data" / "covtype-sample-15k.csv"
STANDARD_TRAIN_ROWS = 11_340 + 3_780


def split(frame: pd.DataFrame, how: str, holdout_fraction: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    if how == "standard":
        return frame.iloc[:STANDARD_TRAIN_ROWS].reset_index(drop=True), frame.iloc[STANDARD_TRAIN_ROWS:]
    hashed = frame.assign(row_hash=row_hashes(frame)).drop_duplicates("row_hash")
    return split_by_hash(hashed, holdout_fraction)


def champion(
    train: pd.DataFrame,
    test: pd.DataFrame,
    names: list[str],
    *,
    budget: float,
    search_rows: int | None,
    seed: int,
) -> dict[str, Any]:
    """The champion as ``covertype train`` makes it: every candidate searched for ``budget`` seconds on at
    most ``search_rows`` rows, the best on validation refit on every row, and only it scored on ``test``."""
    features, target = train[list(FEATURE_COLUMNS)], train[TARGET_COLUMN]
    searched = [
        search_candidate(name, features, target, time_budget=budget, search_rows=search_rows, seed=seed)
        for name in names
    ]
    best = max(searched, key=lambda result: result.validation_accuracy)
    fitted = refit(best.name, best.params, features, target, seed=seed, threads=1)
    metrics = evaluate(fitted.model, test).metrics
    return {
        "champion": {
            "candidate": best.name,
            "holdout_accuracy": round(metrics["holdout_accuracy"], 4),
            "holdout_macro_f1": round(metrics["holdout_macro_f1"], 4),
            "training_seconds": round(fitted.seconds, 1),
            "params": best.params,
        },
        "candidates": [
            {
                "candidate": result.name,
                "validation_accuracy": round(result.validation_accuracy, 4),
                "trials": result.trials,
                "pruned_trials": result.pruned_trials,
                "search_rows": result.search_rows,
                "search_seconds": round(result.search_seconds, 1),
            }
            for result in searched
        ],
    }


#: LightGBM's defaults, the tuned anchor's first trial.
ANCHOR_DEFAULTS: dict[str, Any] = {
    "num_leaves": 31,
    "n_estimators": 100,
    "learning_rate": 0.1,
    "min_child_samples": 20,
    "colsample_bytree": 1.0,
    "subsample": 1.0,
    "reg_lambda": 1e-3,
}


def _anchor_space(trial: optuna.Trial) -> dict[str, Any]:
    return {
        "num_leaves": trial.suggest_int("num_leaves", 15, 255, log=True),
        "n_estimators": trial.suggest_int("n_estimators", 100, 1000, step=50),
        "learning_rate": trial.suggest_float("learning_rate", 0.02, 0.3, log=True),
        "min_child_samples": trial.suggest_int("min_child_samples", 2, 50, log=True),
        "colsample_bytree": trial.suggest_float("colsample_bytree", 0.3, 1.0),
        "subsample": trial.suggest_float("subsample", 0.5, 1.0),
        "subsample_freq": 1,
        "reg_lambda": trial.suggest_float("reg_lambda", 1e-3, 10.0, log=True),
    }


def _raw_features(train: pd.DataFrame) -> Any:
    categories = {
        column: pd.CategoricalDtype(sorted(train[column].unique())) for column in CATEGORICAL_COLUMNS
    }
    return lambda frame: frame[list(FEATURE_COLUMNS)].astype(categories)


def _lightgbm(params: dict[str, Any], seed: int, threads: int) -> lightgbm.LGBMClassifier:
    return lightgbm.LGBMClassifier(**params, random_state=seed, n_jobs=threads, verbose=-1)


def lightgbm_anchor(
    train: pd.DataFrame, test: pd.DataFrame, seed: int, threads: int, budget: float | None
) -> dict[str, Any]:
    """LightGBM on the raw columns: its defaults (``budget`` None) or tuned by Optuna for ``budget`` s."""
    features = _raw_features(train)
    target = train[TARGET_COLUMN]
    started = time.monotonic()
    params: dict[str, Any] = {}
    trials = 0
    if budget is not None:
        fit_x, val_x, fit_y, val_y = validation_split(features(train), target, seed)

        def objective(trial: optuna.Trial) -> float:
            model = _lightgbm(_anchor_space(trial), seed, threads).fit(fit_x, fit_y)
            return float(accuracy_score(val_y, model.predict(val_x)))

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
        study.enqueue_trial(ANCHOR_DEFAULTS)
        study.optimize(objective, timeout=budget)
        params, trials = {**study.best_params, "subsample_freq": 1}, len(study.trials)
    search_seconds = time.monotonic() - started
    model = _lightgbm(params, seed, threads).fit(features(train), target)
    predicted = model.predict(features(test))
    return {
        "holdout_accuracy": round(float(accuracy_score(test[TARGET_COLUMN], predicted)), 4),
        "holdout_macro_f1": round(float(f1_score(test[TARGET_COLUMN], predicted, average="macro")), 4),
        "trials": trials,
        "search_seconds": round(search_seconds, 1),
        "training_seconds": round(time.monotonic() - started - search_seconds, 1),
        "params": params,
    }


def main() -> None:
    settings = Settings()
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--split", choices=("hash", "standard"), default="hash")
    parser.add_argument(
        "--data", help="dataset file (default: the shared sample; --split standard: UCI download)"
    )
    parser.add_argument(
        "--time-budget",
        type=float,
        default=settings.train_time_budget,
        help="seconds of search per training, shared by the candidates (default COVERTYPE_TRAIN_TIME_BUDGET)",
    )
    parser.add_argument(
        "--search-rows",
        type=int,
        default=settings.search_rows,
        help="rows each search sees at most; 0: all (default COVERTYPE_SEARCH_ROWS)",
    )
    parser.add_argument(
        "--per-candidate-budget",
        type=float,
        help="the design before screening: this many seconds for each candidate, on all rows",
    )
    parser.add_argument("--candidates", default=",".join(CANDIDATES), help="comma-separated candidates")
    parser.add_argument("--threads", type=int, default=1, help="native threads for both models")
    parser.add_argument("--seeds", type=int, nargs="+", default=[settings.seed], help="one run per seed")
    parser.add_argument("--no-anchors", action="store_true", help="the champion alone, no LightGBM anchors")
    parser.add_argument("--results", help="also write benchmarks/results/<RESULTS>.json")
    args = parser.parse_args()

    names = args.candidates.split(",")
    if args.per_candidate_budget is not None:
        design = {"budget_per_candidate": args.per_candidate_budget, "search_rows": None}
    else:
        design = {
            "budget_per_candidate": args.time_budget / len(names),
            "search_rows": args.search_rows or None,
        }
    load_before = list(os.getloadavg())
    source = args.data or (None if args.split == "standard" else SAMPLE)
    frame = load_dataset(source)
    train, test = split(frame, args.split, settings.holdout_fraction)
    runs = []
    for seed in args.seeds:
        with threadpool_limits(limits=args.threads):
            ours = champion(
                train,
                test,
                names,
                budget=design["budget_per_candidate"],
                search_rows=design["search_rows"],
                seed=seed,
            )
            anchors: dict[str, Any] = {}
            if not args.no_anchors:
                anchors["lightgbm_default"] = lightgbm_anchor(train, test, seed, args.threads, None)
                tuned = lightgbm_anchor(train, test, seed, args.threads, design["budget_per_candidate"])
                anchors["lightgbm_tuned"] = tuned
                anchors["champion_beats_tuned_lightgbm"] = (
                    ours["champion"]["holdout_accuracy"] > tuned["holdout_accuracy"]
                )
        runs.append({"seed": seed, **ours, **anchors})
    accuracies = [run["champion"]["holdout_accuracy"] for run in runs]
    figures = {
        "dataset": str(source or "scikit-learn fetch_covtype"),
        "split": args.split,
        "train_rows": len(train),
        "test_rows": len(test),
        **design,
        "champion_accuracy_mean": round(sum(accuracies) / len(accuracies), 4),
        "runs": runs,
    }
    print(json.dumps(figures, indent=2))
    if args.results:
        print(write_results(args.results, figures, load_before=load_before))


if __name__ == "__main__":
    main()
