"""The training steps, each one Airflow task of ``covertype_train`` and, chained, ``covertype train``.

``check_new_data`` -> ``prepare_training`` (task ``snapshot``) -> ``search_candidate`` (once per
candidate, mapped) -> ``refit_best`` (task ``refit``) -> ``register_best_candidate`` (task ``register``)
-> ``promote``.

A training screens, then refits: each candidate's search sees a bounded stratified sample of the training
rows (``COVERTYPE_SEARCH_ROWS``) for its share of one budget (``COVERTYPE_TRAIN_TIME_BUDGET``), and only
the winner on validation is fitted on every row, evaluated on the holdout and exported (the runner-up when
the winner cannot be served). So a training's cost is the budget plus one fit on all rows, at any size.

Each step takes and returns the typed values of :mod:`covertype.training.steps`; the DAG passes them
between tasks as JSON XComs. A step that fails for good, in the CLI or in the DAG, ends in
:func:`fail_training`: the MLflow parent run is closed ``FAILED`` with the step and the error.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from threadpoolctl import threadpool_limits

from covertype.model.onnx_export import export_and_check
from covertype.monitoring import RetrainSignals, decide_retraining, log_profile
from covertype.pause_points import VERSION_CREATED, pause_point
from covertype.processes import usable_cpus
from covertype.pushgateway import push_training_outcome
from covertype.registry import tags
from covertype.registry.core import Registry
from covertype.schema import FEATURE_COLUMNS, TARGET_COLUMN
from covertype.settings import Settings
from covertype.store.engine import store_engine
from covertype.store.quality import latest_batch_quality
from covertype.store.reads import count_stored_rows
from covertype.training import candidates as candidate_search
from covertype.training import promotion, tracking
from covertype.training.candidates import Refit, resolve_candidates
from covertype.training.evaluation import evaluate, pickled_size_bytes
from covertype.training.snapshot import read_snapshot, take_snapshot
from covertype.training.split import scored_holdout, split_by_hash
from covertype.training.steps import (
    FAILED,
    SEARCHED,
    TRAINED,
    CandidateResult,
    PreparedTraining,
    PromotionOutcome,
    Registered,
    TrainingDecision,
)

log = logging.getLogger(__name__)


class NoCandidateTrained(RuntimeError):
    """Every candidate of a training failed: there is nothing to register."""


#: Why a retried candidate's task closes the nested run its killed attempt left open.
RETRIED_REASON = (
    "abandoned: the attempt that logged it stopped before finishing (worker killed?); the task was retried"
)


def _describe(exc: BaseException) -> str:
    return tracking.tag_text(f"{type(exc).__name__}: {exc}")


def candidate_names(settings: Settings, candidates: str | None = None) -> list[str]:
    """The candidates to train: ``candidates`` (comma-separated) or the settings' list, validated."""
    names = candidates.split(",") if candidates else settings.candidate_names
    return resolve_candidates([name.strip() for name in names if name.strip()])


def check_new_data(
    settings: Settings, registry: Registry, *, candidates: str | None = None, force: bool = False
) -> TrainingDecision:
    """Decide whether to train, and why (:func:`covertype.monitoring.decide_retraining`).

    The signals: the rows that arrived since the last training (counting is enough because the store only
    ever gains rows, ``row_hash`` is unique), and the champion's latest evaluated batch against its holdout
    accuracy. An empty store is never trained on, even with ``force``. The answer also lists the
    candidates to train (validated here, so a typo fails before any work).
    """
    names = candidate_names(settings, candidates)
    signals = _retrain_signals(settings, registry)
    decision = decide_retraining(signals, settings, force=force)
    return TrainingDecision(
        train=decision.train,
        signal=decision.signal,
        reason=decision.reason,
        rows=signals.stored_rows,
        last_trained_rows=signals.last_trained_rows,
        new_rows=signals.new_rows,
        candidates=tuple(names),
    )


def _retrain_signals(settings: Settings, registry: Registry) -> RetrainSignals:
    """The store's row counts and the champion's latest ``batch_quality`` row and holdout accuracy."""
    current = registry.champion_version()
    engine = store_engine(settings)
    try:
        stored_rows = count_stored_rows(engine)
        latest = None if current is None else latest_batch_quality(engine, model_version=current)
    finally:
        engine.dispose()
    holdout = None if current is None else registry.version_tags(current).get(tags.HOLDOUT_ACCURACY_TAG)
    return RetrainSignals(
        stored_rows=stored_rows,
        last_trained_rows=promotion.last_trained_rows(registry),
        latest=latest,
        holdout_accuracy=None if holdout is None else float(holdout),
    )


def _reason_tags(signal: str, reason: str) -> dict[str, str]:
    return {tags.TRAINING_SIGNAL_TAG: signal, tags.TRAINING_REASON_TAG: tracking.tag_text(reason)}


def prepare_training(
    settings: Settings,
    registry: Registry,
    *,
    context: tracking.RunContext,
    decision: TrainingDecision,
    time_budget: float | None = None,
) -> PreparedTraining:
    """Snapshot the store and open the parent MLflow run the candidates nest under, tagged with the reason.

    ``time_budget`` (default ``settings.train_time_budget``) is only recorded here, as the run's parameter.
    """
    snapshot = take_snapshot(settings)
    train, holdout = split_by_hash(read_snapshot(snapshot.uri, settings), settings.holdout_fraction)
    if train.empty or holdout.empty:
        raise ValueError(
            f"snapshot {snapshot.uri} ({snapshot.rows} rows) is too small to split into train and holdout"
        )
    parent_run_id = tracking.start_parent_run(
        registry,
        snapshot=snapshot,
        context=context,
        train_rows=len(train),
        holdout_rows=len(holdout),
        tags=_reason_tags(decision.signal, decision.reason),
        params={
            "holdout_fraction": settings.holdout_fraction,
            "search_rows": settings.search_rows,
            "time_budget": settings.train_time_budget if time_budget is None else time_budget,
        },
    )
    return PreparedTraining(
        snapshot=snapshot,
        parent_run_id=parent_run_id,
        context=context,
        signal=decision.signal,
        reason=decision.reason,
        candidates=decision.candidates,
    )


def _load_split(settings: Settings, prepared: PreparedTraining) -> tuple[pd.DataFrame, pd.DataFrame]:
    return split_by_hash(read_snapshot(prepared.snapshot.uri, settings), settings.holdout_fraction)


def yield_cpu_to_ingestion(settings: Settings) -> int:
    """Run this process (a search or refit task) at ``settings.training_niceness``; the niceness it now has.

    A search or a refit keeps the CPUs busy for minutes; at the same priority it delays Airflow's scheduler
    and the next ingest run's tasks, and so the stored batch, by tens of seconds on a busy machine. Niced,
    training takes only the CPU time they leave. Never raises the priority of a process niced further.
    """
    niceness = max(os.getpriority(os.PRIO_PROCESS, 0), settings.training_niceness)
    os.setpriority(os.PRIO_PROCESS, 0, niceness)
    return os.getpriority(os.PRIO_PROCESS, 0)


def search_candidate(
    settings: Settings,
    registry: Registry,
    *,
    name: str,
    prepared: PreparedTraining,
    time_budget: float | None = None,
) -> CandidateResult:
    """Search one candidate's parameters on a sample of the training rows; log it as a nested run.

    The candidate gets an equal share of the training's search budget (``time_budget``, default
    ``settings.train_time_budget``) and sees at most ``settings.search_rows`` rows (stratified).

    A candidate that cannot train on this data (its search raises) fails alone: its nested run is closed
    ``FAILED`` with the reason, and the result's status is ``failed`` so that the others still compete.
    Errors reaching MLflow are not caught (a retry may help those). A retry first closes the nested run a
    killed attempt left ``RUNNING`` (:func:`tracking.close_abandoned_candidates`).
    """
    tracking.close_abandoned_candidates(registry, prepared.parent_run_id, name=name, reason=RETRIED_REASON)
    total = settings.train_time_budget if time_budget is None else time_budget
    budget = total / max(1, len(prepared.candidates))
    params: dict[str, object] = {"candidate": name, "time_budget": round(budget, 3), "seed": settings.seed}
    train, holdout = _load_split(settings, prepared)
    try:
        result = candidate_search.search_candidate(
            name,
            train[list(FEATURE_COLUMNS)],
            train[TARGET_COLUMN],
            time_budget=budget,
            search_rows=settings.search_rows,
            seed=settings.seed,
        )
    except Exception as exc:  # noqa: BLE001 - any training error is this candidate's alone; recorded
        return _failed(
            registry, prepared, name, exc, params=params, train_rows=len(train), holdout_rows=len(holdout)
        )
    run_id = tracking.log_search(
        registry,
        parent_run_id=prepared.parent_run_id,
        context=prepared.context,
        snapshot=prepared.snapshot,
        result=result,
        params=params | result.params,
        train_rows=len(train),
        holdout_rows=len(holdout),
    )
    return CandidateResult(
        name=name,
        status=SEARCHED,
        run_id=run_id,
        params=result.params,
        validation_accuracy=result.validation_accuracy,
        search_seconds=result.search_seconds,
    )


def _failed(
    registry: Registry,
    prepared: PreparedTraining,
    name: str,
    exc: Exception,
    *,
    params: dict[str, object],
    train_rows: int,
    holdout_rows: int,
) -> CandidateResult:
    error = _describe(exc)
    run_id = tracking.log_failed_candidate(
        registry,
        parent_run_id=prepared.parent_run_id,
        context=prepared.context,
        snapshot=prepared.snapshot,
        name=name,
        error=error,
        params=params,
        train_rows=train_rows,
        holdout_rows=holdout_rows,
    )
    log.error("candidate %s failed on %s rows: %s", name, train_rows, error)
    return CandidateResult(name=name, status=FAILED, run_id=run_id, error=error)


#: Candidates refit at most: the winner of the search, and the runner-up when the winner cannot be served
#: or its graph is over the size or latency budget.
REFIT_ATTEMPTS = 2


def refit_best(
    settings: Settings, registry: Registry, *, prepared: PreparedTraining, results: Iterable[CandidateResult]
) -> list[CandidateResult]:
    """Fit the best searched candidate on every training row, evaluate it on the holdout (at most
    :data:`~covertype.training.split.SCORED_HOLDOUT_ROWS` of it), export it to ONNX, check the export on the
    same rows, and log it in its search's run; ``results`` with that candidate's result replaced.

    When the winner cannot be served (its refit raises, or its export is not faithful) or its graph is
    over the size or latency budget (:func:`~covertype.training.promotion.within_budget`), the runner-up is
    refit too (at most :data:`REFIT_ATTEMPTS` in all); registration then takes the best within budget.
    The refit runs on ``settings.refit_threads`` threads (default: the CPUs this process may use): it runs
    alone, after the searches.
    """
    results = list(results)
    searched = sorted(
        (result for result in results if result.status == SEARCHED),
        key=lambda result: result.validation_accuracy or 0.0,
        reverse=True,
    )
    if not searched:
        return results
    train, holdout = _load_split(settings, prepared)
    refit: dict[str, CandidateResult] = {}  # by run id
    for result in searched[:REFIT_ATTEMPTS]:
        refit[result.run_id] = _refit_one(settings, registry, prepared, result, train, holdout)
        served = promotion.servable_only([refit[result.run_id]])
        if served and promotion.within_budget(settings, served[0]):
            break
    return [refit.get(result.run_id, result) for result in results]


def _refit_one(
    settings: Settings,
    registry: Registry,
    prepared: PreparedTraining,
    searched: CandidateResult,
    train: pd.DataFrame,
    holdout: pd.DataFrame,
) -> CandidateResult:
    assert searched.params is not None and searched.validation_accuracy is not None  # noqa: S101 - searched
    threads = settings.refit_threads or usable_cpus()
    try:
        fitted = _fit_on(settings, searched, train, threads)
        scored = scored_holdout(holdout)
        with threadpool_limits(limits=1):  # see search_candidate: OpenMP threads crawl on a busy machine
            evaluation = evaluate(fitted.model, scored)
        served = _final_fit(settings, searched, fitted, train, holdout, threads)
        with threadpool_limits(limits=1):
            graph, export = export_and_check(served.model, scored, threads=settings.onnx_threads)
    except Exception as exc:  # noqa: BLE001 - this candidate cannot be served; the runner-up may be
        error = _describe(exc)
        registry.runs.finish(searched.run_id, tags={tracking.ERROR_TAG: f"refit: {error}"}, status="FAILED")
        log.error("candidate %s failed its refit on %s rows: %s", searched.name, len(train), error)
        return replace(searched, status=FAILED, error=f"refit: {error}")
    logged = tracking.log_refit(
        registry,
        run_id=searched.run_id,
        name=searched.name,
        params=searched.params,
        refit=served,
        evaluation_fit=None if served is fitted else fitted,
        validation_accuracy=searched.validation_accuracy,
        evaluation=evaluation,
        model_size_bytes=pickled_size_bytes(served.model),
        export=export,
        graph=graph,
        snapshot=prepared.snapshot,
        train=train,
        holdout_rows=len(holdout),
    )
    return replace(
        searched,
        status=TRAINED,
        model_uri=logged.model_uri,
        holdout_accuracy=evaluation.metrics["holdout_accuracy"],
        holdout_macro_f1=evaluation.metrics["holdout_macro_f1"],
        training_seconds=fitted.seconds + (0.0 if served is fitted else served.seconds),
        export=export,
        evaluation_model=None if served is fitted else tags.EVALUATION_MODEL_PATH,
    )


def _final_fit(
    settings: Settings,
    searched: CandidateResult,
    fitted: Refit,
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    threads: int,
) -> Refit:
    """The model to serve: ``fitted`` (the training rows only), or, while the store holds at most
    ``settings.final_fit_max_rows`` rows, the same candidate refit on every row, holdout included.

    The holdout is a fifth of the rows: on the 12,000 rows of a quick start, refitting the extra trees on
    them too gained a point of accuracy on 3,000 rows no training saw (0.868 against 0.857, 3 seeds,
    ``benchmarks/results/frontier.json``).
    ``fitted`` stays the model the holdout scores and every later promotion comparison are of; beyond the
    limit the gain is small and a second fit on every row costs a retrain's time.
    """
    if len(train) + len(holdout) > settings.final_fit_max_rows:
        return fitted
    return _fit_on(settings, searched, pd.concat([train, holdout], ignore_index=True), threads)


def _fit_on(settings: Settings, searched: CandidateResult, rows: pd.DataFrame, threads: int) -> Refit:
    """The searched candidate with the parameters its search chose, fitted on ``rows``."""
    assert searched.params is not None  # noqa: S101 - a searched candidate
    return candidate_search.refit(
        searched.name,
        searched.params,
        rows[list(FEATURE_COLUMNS)],
        rows[TARGET_COLUMN],
        seed=settings.seed,
        threads=threads,
    )


def register_best_candidate(
    settings: Settings, registry: Registry, *, prepared: PreparedTraining, results: Iterable[CandidateResult]
) -> Registered:
    """Register the best of the candidates that trained as a new model version; fail if none did.

    Only a candidate whose ONNX export passed its check can be served, so one that trained without it
    counts as not trained here: the same snapshot would fail the same way, so this is no error to retry.
    A retry completes the version an interrupted attempt created (registration is idempotent); the tag
    ``covertype.registration`` = ``complete``, written last, is what promotion requires.
    """
    results = list(results)
    servable = promotion.servable_only(results)
    if not servable:
        failures = "; ".join(
            f"{result.name}: {result.error or (result.export.reason if result.export else 'not exported')}"
            for result in results
        )
        raise NoCandidateTrained(
            f"no candidate trained with a faithful ONNX export ({failures or 'none was given'})"
        )
    registered = promotion.register_best(
        settings, registry, servable=servable, snapshot_digest=prepared.snapshot.digest
    )
    pause_point(VERSION_CREATED)
    registry.set_version_tags(registered.version, _reason_tags(prepared.signal, prepared.reason))
    log_profile(
        registry,
        run_id=registered.run_id,
        version=registered.version,
        train=_load_split(settings, prepared)[0],
    )
    registry.set_version_tags(registered.version, {tags.REGISTRATION_TAG: tags.REGISTRATION_COMPLETE})
    failed = sorted(result.name for result in results if result.failed)
    return replace(registered, failed_candidates=tuple(failed))


def promote(
    settings: Settings, registry: Registry, *, prepared: PreparedTraining, registered: Registered
) -> PromotionOutcome:
    """Promote the new version if it beats the champion, remember the data, close the parent run (and
    first any candidate run still ``RUNNING`` under it, ``KILLED``: a killed task that was never retried)."""
    _, holdout = _load_split(settings, prepared)
    outcome = promotion.promote_if_better(
        settings,
        registry,
        version=registered.version,
        holdout_accuracy=registered.holdout_accuracy,
        holdout=scored_holdout(holdout),  # the rows registered.holdout_accuracy was measured on
    )
    promotion.record_trained_data(registry, rows=prepared.snapshot.rows, digest=prepared.snapshot.digest)
    tracking.close_abandoned_candidates(
        registry, prepared.parent_run_id, reason="abandoned: still running when the training finished"
    )
    registry.runs.finish(
        prepared.parent_run_id,
        tags={
            "covertype.registered_version": registered.version,
            "covertype.best_candidate": registered.candidate,
            tags.DECISION_TAG: outcome.decision,
            "covertype.failed_candidates": ",".join(registered.failed_candidates),
        },
        metrics={"holdout_accuracy": registered.holdout_accuracy},
    )
    push_training_outcome(settings, succeeded=True)
    return outcome


def fail_training(
    registry: Registry, prepared: PreparedTraining, *, step: str, error: BaseException | None
) -> None:
    """Close the training's MLflow parent run ``FAILED``, tagged ``<step>: <error type>: <message>``.

    The one failure path of a training once its parent run is open: :func:`run_training` takes it as
    soon as a step raises (:func:`failing_step`; nothing retries there), the ``covertype_train`` DAG
    from its tasks' failure callback, which Airflow calls only when a task fails for good (never before
    a retry). ``error`` is None when Airflow gives no exception (e.g. a task killed from outside).
    Candidate runs still ``RUNNING`` under the parent are closed ``KILLED`` first, with the same reason.
    """
    reason = f"{step}: {_describe(error)}" if error is not None else f"{step} failed"
    tracking.close_abandoned_candidates(
        registry,
        prepared.parent_run_id,
        reason=f"abandoned: still running when the training failed ({reason})",
    )
    registry.runs.finish(
        prepared.parent_run_id, tags={tracking.ERROR_TAG: tracking.tag_text(reason)}, status="FAILED"
    )


@contextmanager
def failing_step(registry: Registry, prepared: PreparedTraining, step: str) -> Iterator[None]:
    """Run one step of :func:`run_training`: when it raises, :func:`fail_training`, then re-raise.

    ``step`` is the name of the DAG task doing the same work, so the parent run reads the same either way.
    """
    try:
        yield
    except Exception as exc:
        fail_training(registry, prepared, step=step, error=exc)
        raise


def run_training(
    settings: Settings,
    registry: Registry,
    *,
    candidates: str | None = None,
    time_budget: float | None = None,
    force: bool = False,
) -> dict[str, Any]:
    """Every step in this process (what ``covertype train`` runs); the JSON summary it prints.

    The summary holds the data check, and after a training the snapshot, each candidate's result
    (``candidates``), the registered version and the promotion decision. A step failing after the
    snapshot closes the MLflow parent run ``FAILED`` (:func:`fail_training`) and re-raises.
    """
    decision = check_new_data(settings, registry, candidates=candidates, force=force)
    if not decision.train:
        return {"status": "skipped", **decision.to_dict()}
    context = tracking.RunContext("cli", f"cli__{datetime.now(UTC).strftime('%Y-%m-%dT%H:%M:%S.%fZ')}")
    prepared = prepare_training(
        settings, registry, context=context, decision=decision, time_budget=time_budget
    )
    with failing_step(registry, prepared, "search_candidate"):
        searched = [
            search_candidate(settings, registry, name=name, prepared=prepared, time_budget=time_budget)
            for name in decision.candidates
        ]
    with failing_step(registry, prepared, "refit"):
        results = refit_best(settings, registry, prepared=prepared, results=searched)
    with failing_step(registry, prepared, "register"):
        registered = register_best_candidate(settings, registry, prepared=prepared, results=results)
    with failing_step(registry, prepared, "promote"):
        outcome = promote(settings, registry, prepared=prepared, registered=registered)
    return {
        "status": "trained",
        **decision.to_dict(),
        "snapshot": prepared.snapshot.to_dict(),
        "parent_run_id": prepared.parent_run_id,
        "candidates": [result.to_dict() for result in results],
        "registered": registered.to_dict(),
        "promotion": outcome.to_dict(),
    }
