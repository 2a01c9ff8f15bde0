"""Retrain for a reason: each signal trains, and the reason lands on the parent run and on the new version.

Each test starts from its own champion trained by the pipeline (SQLite MLflow store and SQLite store in a
temp dir), needs :data:`MIN_NEW_ROWS` new rows for the new-rows signal, stores a batch and has the champion
really score it with ``evaluate_batch``; then ``run_training`` decides.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from covertype.monitoring.retrain import ACCURACY_DROP, DRIFT, FORCED, NEW_ROWS, NONE
from covertype.registry.core import Registry
from covertype.registry.tags import HOLDOUT_ACCURACY_TAG, TRAINING_REASON_TAG, TRAINING_SIGNAL_TAG
from covertype.settings import Settings
from covertype.training.pipeline import run_training
from support.inference import registry_settings
from support.retrain import (
    MIN_NEW_ROWS,
    elevation_shifted,
    later_rows,
    relabelled,
    shuffled_sample,
    store_and_evaluate,
    train_champion,
)
from support.training import fill_store

pytestmark = pytest.mark.slow

BATCH_ROWS = 500


@pytest.fixture(scope="module")
def sample(sample_csv: Path) -> pd.DataFrame:
    return shuffled_sample(sample_csv)


def champion_settings(tmp_path: Path, sample: pd.DataFrame, **overrides: object) -> Settings:
    settings = registry_settings(tmp_path, min_new_rows=MIN_NEW_ROWS, **overrides)
    train_champion(settings, sample)
    return settings


def client(settings: Settings) -> MlflowClient:
    return MlflowClient(tracking_uri=settings.tracking_uri, registry_uri=settings.tracking_uri)


def retrain(settings: Settings) -> dict[str, Any]:
    """``covertype train --candidates logreg`` with half a second of search."""
    return run_training(settings, Registry.from_settings(settings), candidates="logreg", time_budget=0.5)


def assert_recorded(settings: Settings, result: dict[str, Any], signal: str) -> None:
    """The training ran for ``signal``; its reason is a tag of the parent run and of the new version."""
    assert result["status"] == "trained" and result["signal"] == signal, result
    expected = {TRAINING_SIGNAL_TAG: signal, TRAINING_REASON_TAG: result["reason"]}
    run_tags = client(settings).get_run(result["parent_run_id"]).data.tags
    version = client(settings).get_model_version(settings.model_name, result["registered"]["version"])
    assert {key: run_tags[key] for key in expected} == expected
    assert {key: version.tags[key] for key in expected} == expected


def holdout_accuracy(settings: Settings) -> float:
    version = client(settings).get_model_version_by_alias(settings.model_name, settings.model_alias)
    return float(version.tags[HOLDOUT_ACCURACY_TAG])


def test_an_accuracy_drop_on_a_relabelled_batch_trains_and_says_so(
    tmp_path: Path, sample: pd.DataFrame
) -> None:
    settings = champion_settings(tmp_path, sample)
    quality = store_and_evaluate(settings, relabelled(later_rows(sample, 0, BATCH_ROWS)), batch_number=2)
    holdout = holdout_accuracy(settings)
    assert holdout - quality.accuracy > 0.2, (holdout, quality.accuracy)  # 40% of the labels moved

    result = retrain(settings)

    assert_recorded(settings, result, ACCURACY_DROP)
    assert result["new_rows"] == BATCH_ROWS < MIN_NEW_ROWS
    assert result["reason"] == (
        f"accuracy {quality.accuracy:.4f} of v1 on group 1 batch 2 is {holdout - quality.accuracy:.4f} "
        f"below its holdout accuracy {holdout:.4f} (COVERTYPE_ACCURACY_DROP=0.03)"
    )


def test_drift_on_a_shifted_batch_trains_and_says_so(tmp_path: Path, sample: pd.DataFrame) -> None:
    """The accuracy signal is switched off (a drop of 1.0 never happens), so drift alone decides."""
    settings = champion_settings(tmp_path, sample, accuracy_drop=1.0)
    quality = store_and_evaluate(
        settings, elevation_shifted(later_rows(sample, 0, BATCH_ROWS)), batch_number=2
    )
    assert quality.drifted_features == ["Elevation"] and quality.drift_score > 0.2, quality.feature_psi

    result = retrain(settings)

    assert_recorded(settings, result, DRIFT)
    assert result["reason"].startswith(f"drift score {quality.drift_score:.3f} of group 1 batch 2")
    assert result["reason"].endswith("above COVERTYPE_DRIFT_THRESHOLD=0.2 (drifted: Elevation)")


def test_enough_new_rows_train_and_say_so(tmp_path: Path, sample: pd.DataFrame) -> None:
    """The champion scores the new rows too: clean rows, so only their number calls for training."""
    settings = champion_settings(tmp_path, sample)
    quality = store_and_evaluate(settings, later_rows(sample, 0, MIN_NEW_ROWS), batch_number=2)
    assert holdout_accuracy(settings) - quality.accuracy <= 0.03 and quality.drift_score < 0.2, quality

    result = retrain(settings)

    assert_recorded(settings, result, NEW_ROWS)
    assert result["reason"] == f"{MIN_NEW_ROWS} new rows (at least {MIN_NEW_ROWS} needed)"


def test_a_few_clean_rows_do_not_train_and_the_first_version_says_it_was_forced(
    tmp_path: Path, sample: pd.DataFrame
) -> None:
    settings = champion_settings(tmp_path, sample)
    quality = store_and_evaluate(settings, later_rows(sample, 0, BATCH_ROWS), batch_number=2)
    assert holdout_accuracy(settings) - quality.accuracy <= 0.03 and quality.drift_score < 0.2, quality

    result = retrain(settings)

    assert result["status"] == "skipped" and result["signal"] == NONE, result
    assert result["reason"].startswith(
        f"{BATCH_ROWS} new rows since the last training, {MIN_NEW_ROWS} needed"
    )
    versions = client(settings).search_model_versions(f"name='{settings.model_name}'")
    assert [version.tags[TRAINING_SIGNAL_TAG] for version in versions] == [FORCED]


def test_an_unevaluated_batch_falls_back_on_the_row_count(tmp_path: Path, sample: pd.DataFrame) -> None:
    """Rows stored but never scored (no batch_quality row): too few of them, no training."""
    settings = champion_settings(tmp_path, sample)
    fill_store(settings.database, relabelled(later_rows(sample, 0, BATCH_ROWS)), batch_number=2)
    result = retrain(settings)
    assert (result["status"], result["signal"], result["new_rows"]) == ("skipped", NONE, BATCH_ROWS)
