"""Candidates (the pipelines of :mod:`covertype.model.pipelines`) and their time-boxed hyper-parameter search.

Every candidate is one scikit-learn :class:`~sklearn.pipeline.Pipeline` taking the 12 canonical feature
columns; its search space stays within the model's size and latency budget.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sklearn.metrics import accuracy_score
from sklearn.model_selection import ParameterSampler, train_test_split
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from covertype.model.pipelines import LEAF_BUDGET, extra_trees, hgb, leaf_bound, logreg, random_forest

#: Share of the training rows the search scores configurations on (the winner is refit on all rows).
VALIDATION_FRACTION = 0.2
#: Upper bound on configurations drawn per candidate; the time budget usually stops the search first.
MAX_TRIALS = 64


@dataclass(frozen=True)
class Candidate:
    """A model family: how to build it, the parameters tried first, and the space searched after."""

    name: str
    build: Callable[[int], Pipeline]
    defaults: dict[str, Any]
    space: dict[str, list[Any]]


# Tree counts and leaf limits keep every forest within LEAF_BUDGET (see _configurations): a 1,000-row
# batch in ONNX Runtime costs about rows x trees x depth, and the graph ~150 bytes per leaf.
_FOREST_SPACE: dict[str, list[Any]] = {
    "n_estimators": [30, 50, 75],
    "max_leaf_nodes": [1000, 2000, 3000],
    "max_features": ["sqrt", 0.3, 0.5, 0.7],
    "min_samples_leaf": [1, 2, 3],
}
_FOREST_DEFAULTS: dict[str, Any] = {"n_estimators": 50, "max_leaf_nodes": 3000, "max_features": 0.5}

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
            {
                "learning_rate": [0.05, 0.1, 0.2],
                "max_leaf_nodes": [31, 63, 127],
                "min_samples_leaf": [5, 10, 20, 40],
                "l2_regularization": [0.0, 0.1, 1.0],
                "max_features": [0.5, 0.8, 1.0],
            },
        ),
        Candidate("random_forest", random_forest, _FOREST_DEFAULTS, _FOREST_SPACE),
        Candidate("extra_trees", extra_trees, _FOREST_DEFAULTS, _FOREST_SPACE),
        Candidate("logreg", logreg, {"C": 1.0}, {"C": [0.01, 0.1, 1.0, 10.0, 100.0]}),
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
    """The refit winner of one candidate's search and what the search saw."""

    name: str
    model: Pipeline
    params: dict[str, Any]
    validation_accuracy: float
    trials: int
    search_seconds: float
    fit_seconds: float


def search_candidate(
    name: str,
    features: pd.DataFrame,
    target: pd.Series,
    *,
    time_budget: float,
    seed: int = 42,
    native_threads: int = 1,
) -> SearchResult:
    """Random search over ``name``'s space for about ``time_budget`` seconds, then refit on all rows.

    The defaults are always tried first, so even a tiny budget yields a model. A configuration starts
    only if the previous fit's duration still fits in the budget; the final refit on every row of
    ``features`` comes on top of the budget. Configurations are scored by accuracy on a stratified
    validation share of the rows (the holdout is never seen here).

    OpenMP/BLAS threads are capped at ``native_threads``: when candidates train side by side (mapped
    tasks) or the machine is busy, OpenMP's busy-waiting threads made fits 20-70x slower here (a 0.5 s
    logistic regression took 35 s). Candidates scale out across tasks instead.
    """
    with threadpool_limits(limits=native_threads):
        return _search(name, features, target, time_budget=time_budget, seed=seed)


def _search(
    name: str, features: pd.DataFrame, target: pd.Series, *, time_budget: float, seed: int
) -> SearchResult:
    fit_x, val_x, fit_y, val_y = _validation_split(features, target, seed)
    # Adapted to the smaller of the two fits (the search's share), the refit on all rows follows suit.
    adapted = adapt_to_data(name, fit_y)
    started = time.monotonic()
    best_score, best_params, trials, last_fit = -1.0, {}, 0, 0.0
    for drawn in _configurations(CANDIDATES[name], seed):
        params = {**drawn, **adapted}
        if trials and time.monotonic() - started + last_fit > time_budget:
            break
        fit_started = time.monotonic()
        model = build_pipeline(name, params, seed=seed).fit(fit_x, fit_y)
        last_fit = time.monotonic() - fit_started
        score = float(accuracy_score(val_y, model.predict(val_x)))
        trials += 1
        if score > best_score:
            best_score, best_params = score, params
    search_seconds = time.monotonic() - started
    refit_started = time.monotonic()
    model = build_pipeline(name, best_params, seed=seed).fit(features, target)
    return SearchResult(
        name=name,
        model=model,
        params=best_params,
        validation_accuracy=best_score,
        trials=trials,
        search_seconds=search_seconds,
        fit_seconds=time.monotonic() - refit_started,
    )


#: Share of the rows HistGradientBoosting holds out (stratified) for its early stopping (its default).
HGB_STOPPING_FRACTION = 0.1


def adapt_to_data(name: str, target: pd.Series) -> dict[str, Any]:
    """Model parameters a candidate needs to train on ``target`` at all (none for most data).

    HistGradientBoosting's early stopping holds out a stratified share of the rows, which needs two rows
    of every class and a share of at least one row per class: on the first small batches (150 rows, a
    class seen once) it refused to train. There it trains without early stopping.
    """
    if name != "hgb":
        return {}
    counts = target.value_counts()
    if counts.min() >= 2 and math.floor(len(target) * HGB_STOPPING_FRACTION) >= len(counts):
        return {}
    return {"early_stopping": False}


def _validation_split(
    features: pd.DataFrame, target: pd.Series, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series, pd.Series]:
    stratify = target if target.value_counts().min() >= 2 else None
    return train_test_split(  # type: ignore[no-any-return]
        features, target, test_size=VALIDATION_FRACTION, random_state=seed, stratify=stratify
    )


def _configurations(candidate: Candidate, seed: int) -> Iterator[dict[str, Any]]:
    """The defaults, then distinct random draws from the space (each completed by the defaults).

    Configurations that could grow more than :data:`~covertype.model.pipelines.LEAF_BUDGET` leaves are
    skipped: the size and latency budget holds whatever the data, so the search never picks a model the
    size gate would refuse.
    """
    seen: list[dict[str, Any]] = []
    grid_size = math.prod(len(values) for values in candidate.space.values())
    draws = ParameterSampler(candidate.space, n_iter=min(MAX_TRIALS, grid_size), random_state=seed)
    for params in (candidate.defaults, *draws):
        complete = {**candidate.defaults, **params}
        if complete not in seen and leaf_bound(complete) <= LEAF_BUDGET:
            seen.append(complete)
            yield complete
