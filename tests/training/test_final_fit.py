"""The served model learns from the holdout rows too; promotion still compares models that never saw them.

Below ``COVERTYPE_FINAL_FIT_MAX_ROWS`` the winner is fitted twice: on the training rows (scored on the
holdout, kept in the run as ``evaluation_model``) and on every row (registered and served). On a real local
MLflow store and a snapshot of 600 sample rows.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import mlflow.sklearn
import numpy as np
import pytest

from covertype.dataset import load_dataset
from covertype.registry import tags
from covertype.registry.client import mlflow_client
from covertype.registry.core import Registry
from covertype.schema import FEATURE_COLUMNS, TARGET_COLUMN
from covertype.settings import Settings
from covertype.training import pipeline, promotion
from covertype.training.snapshot import read_snapshot
from covertype.training.split import scored_holdout, split_by_hash
from covertype.training.steps import PreparedTraining
from support.inference import registry_settings
from support.training import fill_store, prepared_training

ROWS = 600


@pytest.fixture
def settings(tmp_path: Path, sample_csv: Path) -> Settings:
    settings = registry_settings(tmp_path)
    fill_store(settings.database, load_dataset(sample_csv).head(ROWS))
    return settings


def _train_and_register(settings: Settings) -> tuple[Registry, PreparedTraining, str]:
    registry = Registry.from_settings(settings)
    prepared = prepared_training(settings, registry)
    searched = pipeline.search_candidate(
        settings, registry, name="logreg", prepared=prepared, time_budget=0.5
    )
    results = pipeline.refit_best(settings, registry, prepared=prepared, results=[searched])
    registered = pipeline.register_best_candidate(settings, registry, prepared=prepared, results=results)
    pipeline.promote(settings, registry, prepared=prepared, registered=registered)
    return registry, prepared, registered.version


def test_the_served_model_is_refit_on_every_row_and_the_holdout_scores_stay_of_the_one_without_it(
    settings: Settings,
) -> None:
    registry, prepared, version = _train_and_register(settings)

    labels = registry.version_tags(version)
    assert labels[tags.EVALUATION_MODEL_TAG] == tags.EVALUATION_MODEL_PATH
    run = mlflow_client(settings).get_run(registry.version(version).run_id or "")
    assert run.data.metrics["served_model_rows"] == prepared.snapshot.rows == ROWS
    assert run.data.metrics["evaluation_fit_seconds"] > 0
    train, holdout = split_by_hash(read_snapshot(prepared.snapshot.uri, settings), settings.holdout_fraction)
    scored = scored_holdout(holdout)
    features, truth = scored[list(FEATURE_COLUMNS)], scored[TARGET_COLUMN].to_numpy()

    compared = promotion._load_version(registry, version)  # what promotion re-scores
    assert float((compared.predict(features) == truth).mean()) == pytest.approx(
        float(labels[tags.HOLDOUT_ACCURACY_TAG]), abs=1e-6
    )
    with tempfile.TemporaryDirectory() as folder:
        registered = mlflow.sklearn.load_model(str(registry.download_version(version, Path(folder))))
    assert len(train) + len(holdout) == ROWS
    assert not np.array_equal(registered[-1].coef_, compared[-1].coef_)  # the served one saw more rows


def test_beyond_the_limit_the_registered_model_is_the_one_scored(settings: Settings) -> None:
    registry, prepared, version = _train_and_register(
        settings.model_copy(update={"final_fit_max_rows": ROWS - 1})
    )

    assert tags.EVALUATION_MODEL_TAG not in registry.version_tags(version)
    run = mlflow_client(settings).get_run(registry.version(version).run_id or "")
    assert "evaluation_fit_seconds" not in run.data.metrics
    assert run.data.metrics["served_model_rows"] < ROWS
