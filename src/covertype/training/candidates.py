"""Candidates (the pipelines of :mod:`covertype.model.pipelines`) and their time-boxed hyper-parameter search.

Every candidate is one scikit-learn :class:`~sklearn.pipeline.Pipeline` taking the 12 canonical feature
columns; its search space stays within the model's size and latency budget.

A training screens, then refits: every candidate is searched on a bounded stratified sample of the
training rows (:func:`search_candidate`), so a search costs the same at 12,000 rows as at 465,000 and its
trials mean something at every size; only the winner is then fitted on every row (:func:`refit`).

The search is an Optuna study: the defaults are tried first, then the seeded TPE sampler proposes. A
tree model grows in :data:`STAGES` steps (more trees or boosting rounds each time, warm-started), its
validation accuracy reported after each, so the pruner stops a trial far behind the others at the same
stage (:data:`PRUNE_PERCENTILE`) instead of paying for all of its trees.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import optuna
import pandas as pd
from lightgbm import LGBMClassifier
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from covertype.model.pipelines import (
    LEAF_BUDGET,
    extra_trees,
    hgb,
    leaf_bound,
    lightgbm,
    logreg,
    random_forest,
)
from covertype.schema import COVER_TYPES

#: Share of the training rows the search scores configurations on (the winner is refit on all rows).
VALIDATION_FRACTION = 0.2
#: Upper bound on trials per candidate; the time budget usually stops the search first.
MAX_TRIALS = 64
#: Steps in which a tree model grows during a trial; the pruner may stop it after any but the last.
STAGES = 3
#: Trials (the defaults among them) run in full before the pruner compares, and TPE's random start.
STARTUP_TRIALS = 3
#: A trial is pruned when, at the same stage (from the second on), it is below this percentile of the
#: earlier trials. The median pruner at every stage pruned 21 of 24 LightGBM trials in 60 s: a slower
#: learning rate is behind after a third of its rounds and would not always stay there.
PRUNE_PERCENTILE = 25.0

Space = Callable[[optuna.Trial], dict[str, Any]]


@dataclass(frozen=True)
class Candidate:
    """A model family: how to build it, the parameters tried first, and the space searched after.

    ``resource`` names the parameter counting its trees or boosting rounds (grown in stages during a
    trial), None for a model fitted in one go.
    """

    name: str
    build: Callable[[int], Pipeline]
    defaults: dict[str, Any]
    space: Space
    resource: str | None = None


def _forest_space(trial: optuna.Trial) -> dict[str, Any]:
    """Leaves, features per split, leaf size and split criterion; the tree count stays at the defaults' 75.

    75 trees x 3,000 leaves = 225,000 <= LEAF_BUDGET: a 1,000-row batch in ONNX Runtime costs about
    rows x trees x depth, and the graph ~150 bytes per leaf. More trees never make a forest worse in
    expectation, so drawing fewer only let the noise of the validation share pick them (60 trees,
    ``max_features`` 0.3: 0.8606 on validation, 0.8589 on the benchmark's holdout, against 0.8728 for 75
    trees at 0.7); below 0.5 of the features per split extra trees lost 0.5-1 point on this data.
    """
    return {
        "max_leaf_nodes": trial.suggest_int("max_leaf_nodes", 2000, 3000, step=250),
        "max_features": trial.suggest_categorical("max_features", [0.5, 0.7, 0.9]),
        "min_samples_leaf": trial.suggest_int("min_samples_leaf", 1, 2),
        "criterion": trial.suggest_categorical("criterion", ["gini", "entropy"]),
    }


def _hgb_space(trial: optuna.Trial) -> dict[str, Any]:
    # 300 iterations x 7 classes x 127 leaves = 266,700 <= LEAF_BUDGET.
    return {
        "learning_rate": trial.suggest_float("learning_rate", 0.03, 0.3, log=True),
        "max_leaf_nodes": trial.suggest_int("max_leaf_nodes", 15, 127, log=True),
        "min_samples_leaf": trial.suggest_int("min_samples_leaf", 3, 60, log=True),
        "l2_regularization": trial.suggest_float("l2_regularization", 1e-4, 10.0, log=True),
        "max_features": trial.suggest_float("max_features", 0.4, 1.0),
    }


def _lightgbm_space(trial: optuna.Trial) -> dict[str, Any]:
    """At most 300 rounds (2,100 trees, as HistGradientBoosting's ``max_iter``) and rounds x 7 classes x
    ``num_leaves`` <= LEAF_BUDGET.

    A 1,000-row batch costs about rows x trees x depth: in ONNX Runtime on one thread (load ~5) 300
    rounds of 63 leaves took 94 ms, 100 rounds of 31 leaves 36 ms, the champion's 75 extra trees 34 ms.
    The leaf cap clips the drawn rounds rather than narrowing their range, which TPE needs fixed.
    """
    leaves = trial.suggest_int("num_leaves", 15, 127, log=True)
    rounds = trial.suggest_int("n_estimators", 50, 300, step=25)
    return {
        "num_leaves": leaves,
        "n_estimators": min(rounds, LEAF_BUDGET // (leaves * len(COVER_TYPES))),
        "learning_rate": trial.suggest_float("learning_rate", 0.02, 0.3, log=True),
        "min_child_samples": trial.suggest_int("min_child_samples", 2, 50, log=True),
        "colsample_bytree": trial.suggest_float("colsample_bytree", 0.3, 1.0),
        "subsample": trial.suggest_float("subsample", 0.5, 1.0),
        "subsample_freq": 1,
        "reg_lambda": trial.suggest_float("reg_lambda", 1e-3, 10.0, log=True),
    }


def _logreg_space(trial: optuna.Trial) -> dict[str, Any]:
    return {"C": trial.suggest_float("C", 0.01, 100.0, log=True)}


_FOREST_DEFAULTS: dict[str, Any] = {"n_estimators": 75, "max_leaf_nodes": 3000, "max_features": 0.7}

CANDIDATES: dict[str, Candidate] = {
    candidate.name: candidate
    for candidate in (
        Candidate(
            "hgb",
            hgb,
            {
                "learning_rate": 0.1,
                "max_iter": 300,
                "max_leaf_nodes": 63,
                "min_samples_leaf": 20,
                "l2_regularization": 0.0,
            },
            _hgb_space,
            "max_iter",
        ),
        Candidate(
            "lightgbm",
            lightgbm,
            {"n_estimators": 300, "num_leaves": 63, "learning_rate": 0.1, "min_child_samples": 20},
            _lightgbm_space,
            "n_estimators",
        ),
        Candidate("random_forest", random_forest, _FOREST_DEFAULTS, _forest_space, "n_estimators"),
        Candidate("extra_trees", extra_trees, _FOREST_DEFAULTS, _forest_space, "n_estimators"),
        Candidate("logreg", logreg, {"C": 1.0}, _logreg_space),
    )
}


def resolve_candidates(names: list[str]) -> list[str]:
    """``names`` checked against :data:`CANDIDATES` (order kept, repeats dropped)."""
    unknown = [name for name in names if name not in CANDIDATES]
    if unknown:
        raise ValueError(f"unknown candidate {', '.join(unknown)}; known: {', '.join(CANDIDATES)}")
    if not names:
        raise ValueError(f"no candidate given; known: {', '.join(CANDIDATES)}")
    return list(dict.fromkeys(names))


def build_pipeline(name: str, params: dict[str, Any] | None = None, *, seed: int = 42) -> Pipeline:
    """The unfitted pipeline of candidate ``name`` with its model's ``params`` (defaults when omitted)."""
    candidate = CANDIDATES[name]
    pipeline = candidate.build(seed)
    model_params = {**candidate.defaults, **(params or {})}
    return pipeline.set_params(**{f"model__{key}": value for key, value in model_params.items()})


@dataclass
class SearchResult:
    """What one candidate's search found: the best parameters and what the search saw.

    ``search_rows`` counts the rows the search drew its fit and validation shares from (at most the
    ``search_rows`` asked for); ``trials`` counts the trials run, pruned ones included; ``trial_table``
    has one row per trial (number, state, validation accuracy or the last one reported before pruning,
    seconds, parameters).
    """

    name: str
    params: dict[str, Any]
    validation_accuracy: float
    trials: int
    search_seconds: float
    search_rows: int
    pruned_trials: int = 0
    trial_table: pd.DataFrame | None = None


@dataclass
class Refit:
    """A candidate fitted on every training row with the parameters its search chose."""

    model: Pipeline
    seconds: float
    threads: int


def search_candidate(
    name: str,
    features: pd.DataFrame,
    target: pd.Series,
    *,
    time_budget: float,
    search_rows: int | None = None,
    seed: int = 42,
    native_threads: int = 1,
) -> SearchResult:
    """Optuna search over ``name``'s space for about ``time_budget`` seconds; the best parameters.

    The search sees at most ``search_rows`` of the rows (a stratified sample, :func:`search_sample`;
    None: all). The defaults are always tried first, so even a tiny budget yields parameters. A trial
    starts only if the previous one's duration still fits in the budget. Trials are scored by accuracy
    on a stratified validation share of those rows (the holdout is never seen here).

    OpenMP/BLAS threads are capped at ``native_threads``: when candidates train side by side (mapped
    tasks) or the machine is busy, OpenMP's busy-waiting threads made fits 20-70x slower here (a 0.5 s
    logistic regression took 35 s). Candidates scale out across tasks instead.
    """
    sample_x, sample_y = search_sample(features, target, search_rows, seed)
    with threadpool_limits(limits=native_threads):
        return _search(name, sample_x, sample_y, time_budget=time_budget, seed=seed)


def refit(
    name: str, params: dict[str, Any], features: pd.DataFrame, target: pd.Series, *, seed: int, threads: int
) -> Refit:
    """Candidate ``name`` with ``params`` fitted on every row, on ``threads`` threads.

    The refit runs alone (the searches are over), so it may use more than one thread: forests grow their
    trees in ``n_jobs`` threads, the boosting models build histograms in ``threads`` OpenMP threads.
    The model keeps the ``n_jobs`` it was searched with, so what is logged reads as what was searched.
    """
    pipeline = build_pipeline(name, {**params, **adapt_to_data(name, target)}, seed=seed)
    model = pipeline[-1]
    searched_jobs = model.get_params().get("n_jobs")
    if searched_jobs is not None:
        model.set_params(n_jobs=threads)
    started = time.monotonic()
    with threadpool_limits(limits=threads):
        pipeline.fit(features, target)
    seconds = time.monotonic() - started
    if searched_jobs is not None:
        model.set_params(n_jobs=searched_jobs)
    return Refit(model=pipeline, seconds=seconds, threads=threads)


def search_sample(
    features: pd.DataFrame, target: pd.Series, rows: int | None, seed: int
) -> tuple[pd.DataFrame, pd.Series]:
    """At most ``rows`` of the rows, drawn stratified by class (seeded); all of them when fewer or None."""
    if rows is None or len(features) <= rows:
        return features, target
    stratify = _strata(target)
    sample_x, _, sample_y, _ = train_test_split(
        features, target, train_size=rows, random_state=seed, stratify=stratify
    )
    return sample_x, sample_y


def _search(
    name: str, features: pd.DataFrame, target: pd.Series, *, time_budget: float, seed: int
) -> SearchResult:
    candidate = CANDIDATES[name]
    fit_x, val_x, fit_y, val_y = validation_split(features, target, seed)
    # The parameters must train on both the search's share and every row searched.
    adapted = adapt_to_data(name, fit_y, target)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=seed, n_startup_trials=STARTUP_TRIALS),
        pruner=optuna.pruners.PercentilePruner(
            PRUNE_PERCENTILE, n_startup_trials=STARTUP_TRIALS, n_warmup_steps=1
        ),
    )

    def objective(trial: optuna.Trial) -> float:
        drawn = candidate.space(trial) if trial.number else {}  # the first trial: the defaults
        params = {**candidate.defaults, **drawn, **adapted}
        if leaf_bound(params) > LEAF_BUDGET:  # a space that outgrew the budget: never pick such a model
            raise optuna.TrialPruned(f"{leaf_bound(params)} leaves > {LEAF_BUDGET}")
        trial.set_user_attr("params", params)
        pipeline = build_pipeline(name, params, seed=seed)
        accuracy, last_stage = 0.0, STAGES - 1 if candidate.resource else 0
        for stage, accuracy in enumerate(_staged_accuracy(pipeline, candidate, fit_x, fit_y, val_x, val_y)):
            trial.report(accuracy, stage)
            if stage < last_stage and trial.should_prune():
                raise optuna.TrialPruned()
        return accuracy

    started = time.monotonic()
    study.optimize(
        objective, n_trials=MAX_TRIALS, timeout=time_budget, callbacks=[_stop_before_overrun(time_budget)]
    )
    best = study.best_trial
    pruned = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.PRUNED,))
    return SearchResult(
        name=name,
        params=best.user_attrs["params"],
        validation_accuracy=study.best_value,
        trials=len(study.trials),
        search_seconds=time.monotonic() - started,
        search_rows=len(features),
        pruned_trials=len(pruned),
        trial_table=trial_table(study),
    )


def _staged_accuracy(
    pipeline: Pipeline,
    candidate: Candidate,
    fit_x: pd.DataFrame,
    fit_y: pd.Series,
    val_x: pd.DataFrame,
    val_y: pd.Series,
) -> Iterator[float]:
    """Validation accuracy after each growth stage of the pipeline's model (one value without stages).

    The features are encoded once; scikit-learn ensembles grow by ``warm_start``, LightGBM continues
    from its booster (``init_model``), so all stages together cost about one full fit.
    """
    encode, model = pipeline[:-1], pipeline[-1]
    fit_encoded = encode.fit_transform(fit_x, fit_y)
    val_encoded = encode.transform(val_x)
    if candidate.resource is None:
        yield float(accuracy_score(val_y, model.fit(fit_encoded, fit_y).predict(val_encoded)))
        return
    total = int(model.get_params()[candidate.resource])
    grown = 0
    for stage in range(1, STAGES + 1):
        size = max(1, math.ceil(total * stage / STAGES))
        if isinstance(model, LGBMClassifier):
            previous = model.booster_ if grown else None
            model.set_params(n_estimators=size - grown).fit(fit_encoded, fit_y, init_model=previous)
        else:
            model.set_params(warm_start=True, **{candidate.resource: size}).fit(fit_encoded, fit_y)
        grown = size
        yield float(accuracy_score(val_y, model.predict(val_encoded)))


def _stop_before_overrun(time_budget: float) -> Callable[[optuna.Study, optuna.trial.FrozenTrial], None]:
    """Stop the study when the next trial, as long as the last one, would end after the budget.

    Optuna's ``timeout`` only refuses to start a trial once the budget is spent, so one started just
    before would overrun it by a whole fit.
    """
    started = time.monotonic()

    def callback(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        last = trial.duration.total_seconds() if trial.duration is not None else 0.0
        if time.monotonic() - started + last > time_budget:
            study.stop()

    return callback


def trial_table(study: optuna.Study) -> pd.DataFrame:
    """One row per trial: number, state, accuracy (the last reported one for a pruned trial), seconds,
    stages run, and the full parameters."""
    rows = []
    for trial in study.get_trials(deepcopy=False):
        reported = trial.intermediate_values
        accuracy = trial.value if trial.value is not None else (reported[max(reported)] if reported else None)
        rows.append(
            {
                "trial": trial.number,
                "state": trial.state.name,
                "accuracy": accuracy,
                "seconds": trial.duration.total_seconds() if trial.duration is not None else None,
                "stages": len(reported),
                **trial.user_attrs.get("params", {}),
            }
        )
    return pd.DataFrame(rows).replace({np.nan: None})


#: Share of the rows HistGradientBoosting holds out (stratified) for its early stopping (its default).
HGB_STOPPING_FRACTION = 0.1


#: Most rows a forest's tree is grown from: beyond them each tree draws this many (a bootstrap sample).
FOREST_TREE_ROWS = 100_000
_FORESTS = ("random_forest", "extra_trees")


def adapt_to_data(name: str, *targets: pd.Series) -> dict[str, Any]:
    """Model parameters a candidate needs on each of ``targets``: to train at all, or within its time.

    HistGradientBoosting's early stopping holds out a stratified share of the rows, which needs two rows
    of every class and a share of at least one row per class: on the first small batches (150 rows, a
    class seen once) it refused to train. There it trains without early stopping. Every fit counts: a
    class's single row may fall in the search's validation share, leaving the search's fit fine and
    the refit on all rows impossible.

    A forest on more than :data:`FOREST_TREE_ROWS` rows grows each tree from a bootstrap sample of that
    many, so its refit costs about the same from there on; its trees stop at ``max_leaf_nodes`` anyway
    (at most 3,000 leaves: 33 drawn rows a leaf and more). Through Airflow on the 2-core machine the
    extra trees' refit on every row grew from 22 s at 58,000 rows to 129 s at 290,000, which put the
    retrain over the 300 s batch interval; on 464,810 rows (2 threads, quiet) it took 150 s, and 38 s
    with the cap (random forest: 99 s). Below the cap nothing changes: the searches (at most
    ``COVERTYPE_SEARCH_ROWS``) and every fit on the real 15,000-row sample are as before.
    """
    if name in _FORESTS and max(len(target) for target in targets) > FOREST_TREE_ROWS:
        return {"bootstrap": True, "max_samples": FOREST_TREE_ROWS}
    if name != "hgb" or all(_can_stop_early(target) for target in targets):
        return {}
    return {"early_stopping": False}


def _can_stop_early(target: pd.Series) -> bool:
    counts = target.value_counts()
    return bool(counts.min() >= 2 and math.floor(len(target) * HGB_STOPPING_FRACTION) >= len(counts))


def validation_split(
    features: pd.DataFrame, target: pd.Series, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series, pd.Series]:
    stratify = _strata(target)
    fit_x, val_x, fit_y, val_y = train_test_split(
        features, target, test_size=VALIDATION_FRACTION, random_state=seed, stratify=stratify
    )
    return fit_x, val_x, fit_y, val_y


def _strata(target: pd.Series) -> pd.Series | None:
    """``target`` as the strata of a split, or None when a class has a single row (no stratified split)."""
    return target if target.value_counts().min() >= 2 else None
