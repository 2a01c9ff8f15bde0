"""The drift verdict the way the quick start meets it: a champion trained on the first 150-row batch (~120
training rows after the holdout), then clean 150-row batches, a shifted 1,000-row batch and a batch too small
to judge, each scored by the real ``evaluate_batch``."""

from __future__ import annotations

from pathlib import Path

import pytest

from covertype.dataset import load_dataset
from covertype.monitoring.evaluation import BatchEvaluation, evaluate_batch
from covertype.monitoring.retrain import NONE, RetrainSignals, decide_retraining
from covertype.settings import Settings
from support.inference import registry_settings, train_version
from support.training import fill_store

pytestmark = pytest.mark.slow

FIRST_BATCH, BATCH_ROWS = 150, 150
CLEAN_BATCHES = range(2, 8)
SHIFTED, TOO_SMALL = 8, 9


@pytest.fixture(scope="module")
def evaluations(tmp_path_factory: pytest.TempPathFactory, sample_csv: Path) -> dict[int, BatchEvaluation]:
    sample = load_dataset(sample_csv).sample(frac=1.0, random_state=21).reset_index(drop=True)
    settings = registry_settings(tmp_path_factory.mktemp("quick-start-drift"))
    trained = train_version(settings, sample.head(FIRST_BATCH), candidates="logreg")
    assert trained["promotion"]["promoted"], trained
    batches = {
        number: sample.iloc[FIRST_BATCH + (number - 2) * BATCH_ROWS :][:BATCH_ROWS]
        for number in CLEAN_BATCHES
    }
    later = sample.iloc[FIRST_BATCH + len(CLEAN_BATCHES) * BATCH_ROWS :]
    batches[SHIFTED] = later[:1_000].assign(Elevation=later["Elevation"][:1_000] + 300)
    batches[TOO_SMALL] = later[1_000:1_060].assign(Elevation=later["Elevation"][1_000:1_060] + 300)
    for number, rows in batches.items():
        fill_store(settings.database, rows, batch_number=number)
    return {number: evaluate_batch(settings, 1, number) for number in batches}


def test_clean_150_row_batches_against_the_first_champion_are_not_flagged(
    evaluations: dict[int, BatchEvaluation],
) -> None:
    for number in CLEAN_BATCHES:
        quality = evaluations[number].quality
        assert quality is not None and quality.rows == BATCH_ROWS
        assert quality.drifted_features == [], (number, quality.feature_psi)
        assert quality.drift_status == "stable" and quality.drift_score <= 0.2, quality


def test_elevation_300_m_higher_in_a_1000_row_batch_is_flagged(
    evaluations: dict[int, BatchEvaluation],
) -> None:
    quality = evaluations[SHIFTED].quality
    assert quality is not None and quality.drift_status == "drifted", quality
    assert (
        quality.drifted_features[0] == "Elevation" and quality.drift_score == quality.feature_psi["Elevation"]
    )
    assert "drifted: Elevation" in evaluations[SHIFTED].detail


def test_a_batch_under_100_rows_is_not_judged_and_never_trains_for_drift(
    evaluations: dict[int, BatchEvaluation],
) -> None:
    evaluation = evaluations[TOO_SMALL]
    quality = evaluation.quality
    assert quality is not None and quality.rows == 60
    assert (quality.drift_status, quality.drift_score, quality.drifted_features) == (
        "not_enough_rows",
        None,
        [],
    )
    assert quality.feature_psi["Elevation"] > 0.2  # measured, shown, not judged
    assert "not enough rows to judge drift (under 100)" in evaluation.detail
    signals = RetrainSignals(
        stored_rows=2_000, last_trained_rows=1_940, latest=quality, holdout_accuracy=None
    )
    decision = decide_retraining(signals, Settings(min_new_rows=1_000))
    assert (decision.train, decision.signal) == (False, NONE), decision
