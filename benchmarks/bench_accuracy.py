"""Accuracy benchmark: the training pipeline's champion against LightGBM, tuned and with its defaults.

All models see the same training rows and are scored on the same held-out rows, in the same run. The
anchors take the raw columns (categories as LightGBM's native categoricals); the tuned anchor gets an
Optuna search (seeded TPE, the defaults first, the same validation share, no pruning) for the same time
budget as each candidate of the pipeline, over a practitioner's space without the pipeline's size and
latency budgets (up to 1,000 rounds of 255 leaves).
The champion is chosen exactly as ``covertype train`` chooses it: every candidate is searched within
the time budget, the best validation accuracy wins, and only then is the held-out set scored.

Splits:
  --split hash      (default) the shared 15k sample, holdout = 20 % chosen by row_hash (as in training)
  --split standard  the full UCI data in file order: first 11,340 + 3,780 rows train + validation (both
                    models fit on these 15,120; the champion's search holds out its own validation share),
                    the remaining 565,892 rows are the test set (Blackard & Dean's protocol)

    uv run --frozen python benchmarks/bench_accuracy.py                     # shared sample
    uv run --frozen python benchmarks/bench_accuracy.py --split standard    # full data (scikit-learn
        download, or --data /path/covtype.data.gz)

Prints one JSON object. Native threads (OpenMP) are capped at --threads for both models.
"""

from __future__ import annotations

import argparse
import json
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
from covertype.training.candidates import CANDIDATES, search_candidate, validation_split
from covertype.training.evaluation import evaluate
from covertype.training.split import split_by_hash

SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "data" / "covtype-sample-15k.csv"
STANDARD_TRAIN_ROWS = 11_340 + 3_780


def split(frame: pd.DataFrame, how: str, holdout_fraction: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    if how == "standard":
        return frame.iloc[:STANDARD_TRAIN_ROWS].reset_index(drop=True), frame.iloc[STANDARD_TRAIN_ROWS:]
    hashed = frame.assign(row_hash=row_hashes(frame)).drop_duplicates("row_hash")
    return split_by_hash(hashed, holdout_fraction)


def champion(
    train: pd.DataFrame, test: pd.DataFrame, names: list[str], budget: float, seed: int
) -> dict[str, Any]:
    features, target = train[list(FEATURE_COLUMNS)], train[TARGET_COLUMN]
    results = []
    for name in names:
        result = search_candidate(name, features, target, time_budget=budget, seed=seed)
        metrics = evaluate(result.model, test).metrics
        results.append(
            {
                "candidate": name,
                "validation_accuracy": round(result.validation_accuracy, 4),
                "holdout_accuracy": round(metrics["holdout_accuracy"], 4),
                "holdout_macro_f1": round(metrics["holdout_macro_f1"], 4),
                "trials": result.trials,
                "pruned_trials": result.pruned_trials,
                "search_seconds": round(result.search_seconds, 1),
                "training_seconds": round(result.fit_seconds, 1),
                "params": result.params,
            }
        )
    best = max(results, key=lambda row: row["validation_accuracy"])
    return {"champion": best, "candidates": results}


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
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--split", choices=("hash", "standard"), default="hash")
    parser.add_argument(
        "--data", help="dataset file (default: the shared sample; --split standard: UCI download)"
    )
    parser.add_argument("--time-budget", type=float, default=20.0, help="seconds of search per candidate")
    parser.add_argument("--candidates", default=",".join(CANDIDATES), help="comma-separated candidates")
    parser.add_argument("--threads", type=int, default=1, help="native threads for both models")
    args = parser.parse_args()

    settings = Settings()
    source = args.data or (None if args.split == "standard" else SAMPLE)
    frame = load_dataset(source)
    train, test = split(frame, args.split, settings.holdout_fraction)
    with threadpool_limits(limits=args.threads):
        ours = champion(train, test, args.candidates.split(","), args.time_budget, settings.seed)
        default = lightgbm_anchor(train, test, settings.seed, args.threads, None)
        tuned = lightgbm_anchor(train, test, settings.seed, args.threads, args.time_budget)
    print(
        json.dumps(
            {
                "dataset": str(source or "scikit-learn fetch_covtype"),
                "split": args.split,
                "train_rows": len(train),
                "test_rows": len(test),
                "time_budget_per_candidate": args.time_budget,
                **ours,
                "lightgbm_default": default,
                "lightgbm_tuned": tuned,
                "champion_beats_tuned_lightgbm": ours["champion"]["holdout_accuracy"]
                > tuned["holdout_accuracy"],
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
