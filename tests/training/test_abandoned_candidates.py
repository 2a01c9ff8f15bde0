"""A candidate's nested run left RUNNING by a killed task is closed KILLED by a retry or the training's end.

On a real local MLflow store (SQLite under the test's folder) and a real snapshot of a few hundred rows.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from covertype.dataset import load_dataset
from covertype.registry.client import mlflow_client
from covertype.registry.tags import CANDIDATE_TAG
from covertype.settings import Settings
from covertype.training import pipeline, tracking
from covertype.training.steps import PreparedTraining
from support.inference import registry_settings
from support.training import fill_store


@pytest.fixture
def settings(tmp_path: Path, sample_csv: Path) -> Settings:
    settings = registry_settings(tmp_path)
    fill_store(settings.database, load_dataset(sample_csv).head(600))
    return settings


@pytest.fixture
def prepared(settings: Settings) -> PreparedTraining:
    decision = pipeline.check_new_data(settings, candidates="logreg", force=True)
    return pipeline.prepare_training(settings, context=tracking.RunContext("test", "run"), decision=decision)


def left_running(settings: Settings, prepared: PreparedTraining, name: str) -> str:
    """A nested run of candidate ``name`` as a task killed inside ``log_candidate`` leaves it; its id."""
    client = mlflow_client(settings)
    run = client.create_run(
        client.get_run(prepared.parent_run_id).info.experiment_id,
        run_name=name,
        tags={tracking.PARENT_RUN_TAG: prepared.parent_run_id, CANDIDATE_TAG: name},
    )
    return str(run.info.run_id)


def test_a_retried_candidate_closes_the_run_its_killed_attempt_left(
    settings: Settings, prepared: PreparedTraining
) -> None:
    abandoned = left_running(settings, prepared, "logreg")
    other = left_running(settings, prepared, "hgb")  # another candidate's task, maybe still at work

    result = pipeline.train_candidate(settings, name="logreg", prepared=prepared, time_budget=0.5)

    client = mlflow_client(settings)
    closed = client.get_run(abandoned)
    assert closed.info.status == "KILLED"
    assert closed.data.tags[tracking.ERROR_TAG] == pipeline.RETRIED_REASON
    assert client.get_run(result.run_id).info.status == "FINISHED"
    assert tracking.ERROR_TAG not in client.get_run(result.run_id).data.tags
    assert client.get_run(other).info.status == "RUNNING"


def test_a_failed_training_closes_every_candidate_run_left_running(
    settings: Settings, prepared: PreparedTraining
) -> None:
    finished = pipeline.train_candidate(settings, name="logreg", prepared=prepared, time_budget=0.5).run_id
    abandoned = left_running(settings, prepared, "hgb")

    pipeline.fail_training(settings, prepared, step="register", error=RuntimeError("MLflow went away"))

    client = mlflow_client(settings)
    closed = client.get_run(abandoned)
    assert closed.info.status == "KILLED"
    assert closed.data.tags[tracking.ERROR_TAG] == (
        "abandoned: still running when the training failed (register: RuntimeError: MLflow went away)"
    )
    assert client.get_run(finished).info.status == "FINISHED"
    assert tracking.ERROR_TAG not in client.get_run(finished).data.tags
    assert client.get_run(prepared.parent_run_id).info.status == "FAILED"
