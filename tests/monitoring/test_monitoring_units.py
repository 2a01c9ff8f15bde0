"""The monitoring arithmetic on its own: reference profile, PSI, batch scores, the retraining decision."""

from __future__ import annotations

import json
import math
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rich.console import Console
from sklearn.metrics import accuracy_score, f1_score, recall_score

from covertype.dataset import load_dataset
from covertype.monitoring.drift import EPSILON, drift_report, population_stability_index
from covertype.monitoring.evaluation import classification_scores
from covertype.monitoring.profile import NUMERIC_BINS, ReferenceProfile, build_profile
from covertype.monitoring.report import quality_table
from covertype.monitoring.retrain import (
    ACCURACY_DROP,
    DRIFT,
    FIRST_MODEL,
    FORCED,
    NEW_ROWS,
    NONE,
    RetrainDecision,
    RetrainSignals,
    decide_retraining,
)
from covertype.schema import FEATURE_COLUMNS, SOIL_TYPES, TARGET_COLUMN
from covertype.settings import Settings
from covertype.store.quality import BatchQuality


@pytest.fixture(scope="module")
def halves(sample_csv: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The shuffled sample: 12,000 rows to profile, 3,000 others to draw batches from."""
    frame = load_dataset(sample_csv).sample(frac=1.0, random_state=0)
    return frame.iloc[:12_000], frame.iloc[12_000:]


def test_psi_is_zero_for_equal_shares_and_finite_with_empty_bins() -> None:
    assert population_stability_index([0.5, 0.5], [0.5, 0.5]) == 0.0
    empty_bin = population_stability_index([0.5, 0.5], [1.0, 0.0])
    expected = (1.0 - 0.5) * math.log(1.0 / 0.5) + (EPSILON - 0.5) * math.log(EPSILON / 0.5)
    assert math.isfinite(empty_bin) and empty_bin == pytest.approx(expected)


def test_the_profile_has_quantile_bins_every_code_and_survives_json(
    halves: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    reference, _ = halves
    profile = build_profile(reference)

    elevation = profile.numeric["Elevation"]
    assert len(elevation.edges) == NUMERIC_BINS - 1
    assert np.allclose(elevation.proportions, 1 / NUMERIC_BINS, atol=0.01)  # quantile bins: equal shares
    assert sum(elevation.proportions) == pytest.approx(1.0)
    assert set(profile.categorical["Soil_Type"].frequencies) == set(SOIL_TYPES)
    assert sum(profile.categorical["Wilderness_Area"].frequencies.values()) == pytest.approx(1.0)
    assert profile.rows == len(reference)
    assert profile.labels is not None and list(profile.labels.frequencies) == [str(c) for c in range(1, 8)]
    shares = reference[TARGET_COLUMN].value_counts(normalize=True)
    assert profile.labels.frequencies["2"] == pytest.approx(shares[2])
    assert ReferenceProfile.from_json(profile.to_json()) == profile


def test_a_clean_batch_is_not_flagged_and_a_shifted_one_is_on_the_shifted_feature(
    halves: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    reference, rest = halves
    profile = build_profile(reference)
    clean = rest.sample(500, random_state=1)
    shifted = clean.assign(Elevation=clean["Elevation"] + 300)

    calm = drift_report(profile, clean, threshold=0.2)
    moved = drift_report(profile, shifted, threshold=0.2)

    assert calm.drifted == [] and calm.score < 0.2, calm
    assert moved.drifted == ["Elevation"], moved.feature_psi
    assert moved.score == moved.feature_psi["Elevation"] > 0.2
    assert set(moved.feature_psi) == {*FEATURE_COLUMNS, TARGET_COLUMN}


def test_a_changed_mix_of_classes_is_flagged_on_the_label(halves: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    """Prior shift: class 2 (about half of the rows) cut to 10 % of a batch, each row left as it was."""
    reference, rest = halves
    profile = build_profile(reference)
    twos, others = rest[rest[TARGET_COLUMN] == 2], rest[rest[TARGET_COLUMN] != 2]
    batch = pd.concat([twos.sample(50, random_state=3), others.sample(450, random_state=3)])

    report = drift_report(profile, batch, threshold=0.2)

    assert report.drifted[0] == TARGET_COLUMN and report.score == report.feature_psi[TARGET_COLUMN] > 0.5
    clean = drift_report(profile, rest.sample(500, random_state=3), threshold=0.2)
    assert clean.feature_psi[TARGET_COLUMN] < 0.05, clean.feature_psi


def test_a_profile_logged_before_labels_were_profiled_still_measures_the_features(
    halves: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    reference, rest = halves
    stored = json.loads(build_profile(reference).to_json())
    del stored["labels"]  # as versions trained before this release logged it
    older = ReferenceProfile.from_json(json.dumps(stored))

    report = drift_report(older, rest.sample(500, random_state=4), threshold=0.2)

    assert older.labels is None and set(report.feature_psi) == set(FEATURE_COLUMNS)
    assert build_profile(reference[list(FEATURE_COLUMNS)]).labels is None  # unlabelled rows: no label profile


def test_rare_soil_types_missing_from_a_small_clean_batch_do_not_flag_it(
    halves: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    """40 soil codes, many rarer than 1 %: a clean batch of 300 rows lacks several of them by chance."""
    reference, rest = halves
    profile = build_profile(reference)
    for seed in range(5):
        batch = rest.sample(300, random_state=seed)
        assert drift_report(profile, batch, threshold=0.2).feature_psi["Soil_Type"] < 0.2


def test_batch_scores_agree_with_scikit_learn() -> None:
    generator = np.random.default_rng(7)
    truth = generator.integers(1, 8, size=400)
    predicted = np.where(generator.random(400) < 0.7, truth, generator.integers(1, 8, size=400))
    predicted[predicted == 4] = 5  # one class never predicted: its F1 and recall are zero

    scores = classification_scores(truth, predicted)

    assert scores.accuracy == pytest.approx(accuracy_score(truth, predicted))
    assert scores.macro_f1 == pytest.approx(f1_score(truth, predicted, average="macro"))
    recalls = recall_score(truth, predicted, labels=sorted(set(truth)), average=None)
    assert scores.class_recall == pytest.approx(dict(zip(map(str, sorted(set(truth))), recalls, strict=True)))
    assert scores.class_recall["4"] == 0.0


#: Thresholds that let the batch signals decide: 1,000 new rows needed, the default drop and drift limits.
THRESHOLDS = Settings(min_new_rows=1_000, accuracy_drop=0.03, drift_threshold=0.2)


def evaluated(accuracy: float, drift_score: float | None, drifted: list[str] | None = None) -> BatchQuality:
    """The champion v3's ``batch_quality`` row for group 1 batch 6."""
    return BatchQuality(
        group_number=1,
        batch_number=6,
        model_version="3",
        rows=500,
        accuracy=accuracy,
        macro_f1=accuracy,
        drift_score=drift_score,
        drifted_features=drifted or [],
        class_recall={},
        feature_psi={},
        evaluated_at=datetime(2026, 1, 1),
    )


def signals(new_rows: int, latest: BatchQuality | None, holdout: float | None = 0.86) -> RetrainSignals:
    return RetrainSignals(
        stored_rows=10_000 + new_rows, last_trained_rows=10_000, latest=latest, holdout_accuracy=holdout
    )


def test_enough_new_rows_trigger_training() -> None:
    decision = decide_retraining(signals(1_500, evaluated(0.86, 0.01)), THRESHOLDS)
    assert decision == RetrainDecision(True, NEW_ROWS, "1500 new rows (at least 1000 needed)")


def test_an_accuracy_drop_triggers_training_before_enough_rows_arrive() -> None:
    decision = decide_retraining(signals(200, evaluated(0.80, 0.01)), THRESHOLDS)
    assert decision.train and decision.signal == ACCURACY_DROP
    assert decision.reason.startswith(
        "accuracy 0.8000 of v3 on group 1 batch 6 is 0.0600 below its holdout accuracy 0.8600"
    )


def test_drift_triggers_training_before_the_accuracy_shows_it() -> None:
    decision = decide_retraining(signals(200, evaluated(0.85, 0.9, ["Elevation"])), THRESHOLDS)
    assert decision.train and decision.signal == DRIFT
    assert "drift score 0.900 of group 1 batch 6" in decision.reason and "Elevation" in decision.reason


def test_the_reason_names_the_most_telling_signal() -> None:
    """Accuracy drop before drift before new rows, whichever else fires too."""
    both = evaluated(0.5, 0.9, ["Elevation"])
    assert decide_retraining(signals(1_500, both), THRESHOLDS).signal == ACCURACY_DROP
    assert decide_retraining(signals(1_500, evaluated(0.86, 0.9)), THRESHOLDS).signal == DRIFT


def test_no_signal_or_no_new_rows_means_no_training() -> None:
    quiet = decide_retraining(signals(200, evaluated(0.85, 0.05)), THRESHOLDS)
    unavailable = decide_retraining(signals(200, evaluated(0.1, None), holdout=None), THRESHOLDS)
    never_evaluated = decide_retraining(signals(200, None), THRESHOLDS)
    nothing_new = decide_retraining(signals(0, evaluated(0.1, 5.0)), THRESHOLDS)
    decisions = (quiet, unavailable, never_evaluated, nothing_new)
    assert [d.train for d in decisions] == [False] * 4
    assert {d.signal for d in decisions} == {NONE}
    assert quiet.reason.startswith("200 new rows since the last training, 1000 needed")


def test_empty_store_force_and_first_training_come_before_the_signals() -> None:
    empty = RetrainSignals(stored_rows=0, last_trained_rows=None)
    first = RetrainSignals(stored_rows=50, last_trained_rows=None)
    unchanged = RetrainSignals(stored_rows=50, last_trained_rows=50)
    assert decide_retraining(empty, THRESHOLDS, force=True) == RetrainDecision(
        False, NONE, "the store holds no rows yet"
    )
    assert decide_retraining(unchanged, THRESHOLDS, force=True) == RetrainDecision(True, FORCED, "forced")
    assert decide_retraining(first, THRESHOLDS) == RetrainDecision(True, FIRST_MODEL, "no model trained yet")


def test_the_defaults_keep_training_on_any_new_row() -> None:
    decision = decide_retraining(RetrainSignals(stored_rows=51, last_trained_rows=50), Settings())
    assert decision == RetrainDecision(True, NEW_ROWS, "1 new rows (at least 1 needed)")


def test_the_monitor_table_marks_drift_and_missing_profiles() -> None:
    common = {"group_number": 1, "model_version": "3", "rows": 150, "accuracy": 0.8123, "macro_f1": 0.7}
    rows = [
        BatchQuality(
            batch_number=1, drift_score=0.05, drifted_features=[], **common,
            class_recall={}, feature_psi={}, evaluated_at=datetime(2026, 1, 1),
        ),
        BatchQuality(
            batch_number=2, drift_score=1.2, drifted_features=["Elevation"], **common,
            class_recall={}, feature_psi={}, evaluated_at=datetime(2026, 1, 1),
        ),
        BatchQuality(
            batch_number=3, drift_score=None, drifted_features=[], **common,
            class_recall={}, feature_psi={}, evaluated_at=datetime(2026, 1, 1),
        ),
    ]  # fmt: skip
    console = Console(width=140, record=True, color_system=None)
    console.print(quality_table(rows, threshold=0.2))
    text = console.export_text()
    assert "0.8123" in text and "Elevation" in text and "n/a" in text and "v3" in text
