"""The Optuna search of a candidate: its time budget, its pruning, and its trials in MLflow."""

from __future__ import annotations

from pathlib import Path

import mlflow
import optuna
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from covertype.dataset import load_dataset
from covertype.model.pipelines import LEAF_BUDGET, leaf_bound
from covertype.schema import FEATURE_COLUMNS, TARGET_COLUMN
from covertype.training.candidates import CANDIDATES, search_candidate
from covertype.training.tracking import SEARCH_TRIALS_ARTIFACT, log_search_trials


@pytest.fixture(scope="module")
def rows(sample_csv: Path) -> pd.DataFrame:
    return load_dataset(sample_csv).head(2_000)


def test_the_search_stops_within_its_budget_and_prunes_trials_far_behind(rows: pd.DataFrame) -> None:
    budget = 3.0
    result = search_candidate(
        "extra_trees", rows[list(FEATURE_COLUMNS)], rows[TARGET_COLUMN], time_budget=budget
    )
    # The last trial starts only if one as long as the previous still fits: the budget holds (plus slack
    # for a trial slower than its predecessor on a busy machine).
    assert 1 < result.trials <= 64 and result.search_seconds < budget * 2
    table = result.trial_table
    assert table is not None and list(table["trial"]) == list(range(result.trials))
    assert (
        table.loc[0, "n_estimators"] == CANDIDATES["extra_trees"].defaults["n_estimators"]
    )  # defaults first
    assert (table["state"] == "PRUNED").sum() == result.pruned_trials
    assert (table.loc[table["state"] == "PRUNED", "stages"] == 2).all()  # pruned after the 2nd of 3
    completed = table[table["state"] == "COMPLETE"]
    assert result.validation_accuracy == pytest.approx(completed["accuracy"].max())
    best = completed.loc[completed["accuracy"].idxmax()]
    assert result.search_rows == len(rows) and result.params["max_features"] == best["max_features"]


def test_the_seeded_search_of_a_one_stage_model_repeats_its_trials(rows: pd.DataFrame) -> None:
    """Same seed, same proposals (TPE is seeded); a model fitted in one go is never pruned."""
    features, target = rows[list(FEATURE_COLUMNS)], rows[TARGET_COLUMN]
    first = search_candidate("logreg", features, target, time_budget=1.5).trial_table
    second = search_candidate("logreg", features, target, time_budget=1.5).trial_table
    assert first is not None and second is not None and (first["state"] == "COMPLETE").all()
    shared = min(len(first), len(second))
    assert first["C"].head(shared).tolist() == second["C"].head(shared).tolist()


def test_the_trials_are_logged_to_mlflow_as_steps_and_a_table(rows: pd.DataFrame, tmp_path: Path) -> None:
    result = search_candidate("logreg", rows[list(FEATURE_COLUMNS)], rows[TARGET_COLUMN], time_budget=1.0)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    experiment = mlflow.create_experiment("search", artifact_location=(tmp_path / "artifacts").as_uri())
    with mlflow.start_run(experiment_id=experiment) as run:
        log_search_trials(result)
    client = MlflowClient(tracking_uri=uri)
    history = client.get_metric_history(run.info.run_id, "trial_accuracy")
    assert sorted(metric.step for metric in history) == list(range(result.trials))
    assert max(metric.value for metric in history) == pytest.approx(result.validation_accuracy)
    assert len(client.get_metric_history(run.info.run_id, "trial_C")) == result.trials
    table = pd.read_csv(
        Path(client.download_artifacts(run.info.run_id, SEARCH_TRIALS_ARTIFACT, str(tmp_path)))
    )
    assert len(table) == result.trials and {"trial", "state", "accuracy", "seconds", "C"} <= set(
        table.columns
    )


@pytest.mark.parametrize("name", list(CANDIDATES))
def test_no_trial_can_draw_a_model_over_the_leaf_budget(name: str) -> None:
    """Random draws from the whole space (TPE only narrows it): every one within the budget."""
    candidate = CANDIDATES[name]
    assert leaf_bound(candidate.defaults) <= LEAF_BUDGET
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(300):
        params = {**candidate.defaults, **candidate.space(study.ask())}
        assert leaf_bound(params) <= LEAF_BUDGET, params
    largest = {"num_leaves": 127, "n_estimators": 400}
    assert leaf_bound(largest) > LEAF_BUDGET  # so the space's cap on rounds is what keeps LightGBM in budget
