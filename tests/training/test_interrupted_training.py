"""A training step killed halfway leaves nothing that stays broken.

A candidate's nested run left RUNNING by a killed task is closed KILLED by a retry or the training's end; a
retried registration completes the version its first attempt created instead of making another; a version
whose registration never completed is never promoted. On a real local MLflow store (SQLite under the
test's folder) and a real snapshot of a few hundred rows.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import pytest

from covertype.dataset import load_dataset
from covertype.registry import tags
from covertype.registry.client import mlflow_client
from covertype.registry.core import Registry
from covertype.settings import Settings
from covertype.training import pipeline, promotion, tracking
from covertype.training.snapshot import read_snapshot
from covertype.training.split import split_by_hash
from covertype.training.steps import CandidateResult, PreparedTraining
from support.inference import registry_settings
from support.training import fill_store, prepared_training


@pytest.fixture
def settings(tmp_path: Path, sample_csv: Path) -> Settings:
    settings = registry_settings(tmp_path)
    fill_store(settings.database, load_dataset(sample_csv).head(600))
    return settings


@pytest.fixture
def registry(settings: Settings) -> Registry:
    return Registry.from_settings(settings)


@pytest.fixture
def prepared(settings: Settings, registry: Registry) -> PreparedTraining:
    return prepared_training(settings, registry)


def left_running(settings: Settings, prepared: PreparedTraining, name: str) -> str:
    """A nested run of candidate ``name`` as a task killed inside ``log_candidate`` leaves it; its id."""
    client = mlflow_client(settings)
    run = client.create_run(
        client.get_run(prepared.parent_run_id).info.experiment_id,
        run_name=name,
        tags={tracking.PARENT_RUN_TAG: prepared.parent_run_id, tags.CANDIDATE_TAG: name},
    )
    return str(run.info.run_id)


def test_a_retried_candidate_closes_the_run_its_killed_attempt_left(
    settings: Settings, registry: Registry, prepared: PreparedTraining
) -> None:
    abandoned = left_running(settings, prepared, "logreg")
    other = left_running(settings, prepared, "hgb")  # another candidate's task, maybe still at work

    result = pipeline.search_candidate(settings, registry, name="logreg", prepared=prepared, time_budget=0.5)

    client = mlflow_client(settings)
    closed = client.get_run(abandoned)
    assert closed.info.status == "KILLED"
    assert closed.data.tags[tracking.ERROR_TAG] == pipeline.RETRIED_REASON
    assert client.get_run(result.run_id).info.status == "FINISHED"
    assert tracking.ERROR_TAG not in client.get_run(result.run_id).data.tags
    assert client.get_run(other).info.status == "RUNNING"


def test_a_failed_training_closes_every_candidate_run_left_running(
    settings: Settings, registry: Registry, prepared: PreparedTraining
) -> None:
    finished = pipeline.search_candidate(
        settings, registry, name="logreg", prepared=prepared, time_budget=0.5
    ).run_id
    abandoned = left_running(settings, prepared, "hgb")

    pipeline.fail_training(registry, prepared, step="register", error=RuntimeError("MLflow went away"))

    client = mlflow_client(settings)
    closed = client.get_run(abandoned)
    assert closed.info.status == "KILLED"
    assert closed.data.tags[tracking.ERROR_TAG] == (
        "abandoned: still running when the training failed (register: RuntimeError: MLflow went away)"
    )
    assert client.get_run(finished).info.status == "FINISHED"
    assert tracking.ERROR_TAG not in client.get_run(finished).data.tags
    assert client.get_run(prepared.parent_run_id).info.status == "FAILED"


@pytest.fixture
def trained(settings: Settings, registry: Registry, prepared: PreparedTraining) -> CandidateResult:
    searched = pipeline.search_candidate(
        settings, registry, name="logreg", prepared=prepared, time_budget=0.5
    )
    [result] = pipeline.refit_best(settings, registry, prepared=prepared, results=[searched])
    return result


def test_a_retried_refit_logs_into_the_same_run_and_finishes_it(
    settings: Settings, registry: Registry, prepared: PreparedTraining
) -> None:
    """A refit killed while it logged leaves its search's run RUNNING; the retry resumes that run."""
    searched = pipeline.search_candidate(
        settings, registry, name="logreg", prepared=prepared, time_budget=0.5
    )
    client = mlflow_client(settings)
    client.update_run(searched.run_id, status="RUNNING")  # as the killed refit left it

    [result] = pipeline.refit_best(settings, registry, prepared=prepared, results=[searched])

    run = client.get_run(result.run_id)
    assert result.trained and result.run_id == searched.run_id and run.info.status == "FINISHED"
    assert run.data.metrics["holdout_accuracy"] == pytest.approx(result.holdout_accuracy)
    assert run.data.metrics["validation_accuracy"] == pytest.approx(searched.validation_accuracy)


def test_the_runner_up_is_refit_when_the_winner_cannot_be(
    settings: Settings, registry: Registry, prepared: PreparedTraining
) -> None:
    """The best on validation whose refit raises fails alone (its run FAILED, the reason tagged); the
    runner-up is refit, and registration can go on with it."""
    runner_up = pipeline.search_candidate(
        settings, registry, name="logreg", prepared=prepared, time_budget=0.5
    )
    broken = pipeline.search_candidate(settings, registry, name="logreg", prepared=prepared, time_budget=0.5)
    winner = replace(broken, params={"C": -1.0}, validation_accuracy=1.0)  # sklearn refuses C <= 0

    results = pipeline.refit_best(settings, registry, prepared=prepared, results=[runner_up, winner])

    assert [result.status for result in results] == ["trained", "failed"]
    assert results[1].error is not None and results[1].error.startswith("refit: InvalidParameterError")
    failed_run = mlflow_client(settings).get_run(broken.run_id)
    assert failed_run.info.status == "FAILED" and "C" in failed_run.data.tags[tracking.ERROR_TAG]
    assert promotion.servable_only(results) == [results[0]]


def test_a_winner_over_the_budget_gives_way_to_the_runner_up_within_it(
    settings: Settings, registry: Registry, prepared: PreparedTraining
) -> None:
    """A forest whose graph is over COVERTYPE_MAX_MODEL_MB wins the search; the runner-up is refit too and
    registered instead, so training still ends with a version promotion can accept."""
    budget = settings.model_copy(update={"max_model_mb": 0.05})  # a forest of 600 rows: > 50 kB
    forest = pipeline.search_candidate(
        budget, registry, name="extra_trees", prepared=prepared, time_budget=0.5
    )
    linear = pipeline.search_candidate(budget, registry, name="logreg", prepared=prepared, time_budget=0.5)
    winner = replace(forest, validation_accuracy=1.0)

    results = pipeline.refit_best(budget, registry, prepared=prepared, results=[winner, linear])

    assert [result.status for result in results] == ["trained", "trained"]
    assert not promotion.within_budget(budget, results[0]) and promotion.within_budget(budget, results[1])
    registered = pipeline.register_best_candidate(budget, registry, prepared=prepared, results=results)
    assert registered.candidate == "logreg"
    outcome = pipeline.promote(budget, registry, prepared=prepared, registered=registered)
    assert outcome.promoted and registry.version_tags(registered.version)[tags.SIZE_GATE_TAG] == "passed"


def created_then_killed(
    settings: Settings, registry: Registry, prepared: PreparedTraining, trained: CandidateResult
) -> str:
    """What a register task killed right after creating the version leaves (no reason tags, no profile)."""
    servable = promotion.servable_only([trained])
    return promotion.register_best(
        settings, registry, servable=servable, snapshot_digest=prepared.snapshot.digest
    ).version


def test_a_retried_registration_completes_the_version_it_created(
    settings: Settings,
    registry: Registry,
    prepared: PreparedTraining,
    trained: CandidateResult,
    caplog: pytest.LogCaptureFixture,
) -> None:
    created = created_then_killed(settings, registry, prepared, trained)
    assert registry.version_tags(created)[tags.REGISTRATION_TAG] == tags.REGISTRATION_INCOMPLETE  # marked

    with caplog.at_level(logging.WARNING, logger="covertype.registry.core"):
        registered = pipeline.register_best_candidate(
            settings, registry, prepared=prepared, results=[trained]
        )

    assert registered.version == created
    assert registry.registered_version_numbers() == {created}
    labels = registry.version_tags(created)
    assert labels[tags.REGISTRATION_TAG] == tags.REGISTRATION_COMPLETE
    assert labels[tags.CANDIDATE_TAG] == "logreg"
    assert labels[tags.TRAINING_SIGNAL_TAG] == prepared.signal
    assert tags.PROFILE_TAG in labels
    assert f"version {created} of {settings.model_name}" in caplog.text


def test_a_half_registered_version_is_refused_and_no_alias_moves(
    settings: Settings, registry: Registry, prepared: PreparedTraining, trained: CandidateResult
) -> None:
    created = created_then_killed(settings, registry, prepared, trained)
    holdout = split_by_hash(read_snapshot(prepared.snapshot.uri, settings), settings.holdout_fraction)[1]

    outcome = promotion.promote_if_better(
        settings, registry, version=created, holdout_accuracy=trained.holdout_accuracy or 0.0, holdout=holdout
    )

    assert outcome.decision == tags.REJECTED and not outcome.promoted and outcome.alias is None
    assert outcome.reason.startswith("refused: registration incomplete")
    assert registry.champion_version() is None  # a first model would have become champion
    assert registry.version(created).aliases == []
    labels = registry.version_tags(created)
    assert labels[tags.DECISION_TAG] == tags.REJECTED
    assert labels[tags.REASON_TAG] == outcome.reason
