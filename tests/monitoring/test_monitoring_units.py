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
from covertype.monitoring.drift import (
    EPSILON,
    drift_report,
    holm_adjusted,
    population_stability_index,
    two_sample_chi_square,
)
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
from covertype.store.quality import BatchQuality, DriftStatus

#: The drift verdict's defaults: PSI above 0.2 and beyond chance at a family-wise 0.001.
RULE = {"threshold": 0.2, "significance": 0.001}


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

    calm = drift_report(profile, clean, **RULE)
    moved = drift_report(profile, shifted, **RULE)

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

    report = drift_report(profile, batch, **RULE)

    assert report.drifted[0] == TARGET_COLUMN and report.score == report.feature_psi[TARGET_COLUMN] > 0.5
    clean = drift_report(profile, rest.sample(500, random_state=3), **RULE)
    assert clean.feature_psi[TARGET_COLUMN] < 0.05, clean.feature_psi


def test_a_profile_logged_before_labels_were_profiled_still_measures_the_features(
    halves: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    reference, rest = halves
    stored = json.loads(build_profile(reference).to_json())
    del stored["labels"]  # as versions trained before this release logged it
    older = ReferenceProfile.from_json(json.dumps(stored))

    report = drift_report(older, rest.sample(500, random_state=4), **RULE)

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
        assert drift_report(profile, batch, **RULE).feature_psi["Soil_Type"] < 0.2


def _quick_start_pairs(
    frame: pd.DataFrame, batch_rows: int, count: int
) -> list[tuple[ReferenceProfile, pd.DataFrame]]:
    """``count`` (profile of 120 rows, batch of ``batch_rows`` other rows) pairs: the quick start's first
    champion is trained on ~120 rows (150-row batches, a fifth held out)."""
    pairs = []
    for seed in range(count):
        shuffled = frame.sample(frac=1.0, random_state=100 + seed)
        pairs.append((build_profile(shuffled.iloc[:120]), shuffled.iloc[120 : 120 + batch_rows]))
    return pairs


def test_clean_150_row_batches_against_a_120_row_reference_are_not_flagged(
    halves: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    """The issue's false alarm: at these sizes PSI's noise alone is 0.2-0.3, so a fixed 0.2 flagged nearly
    every clean batch. The size-aware verdict may flag at most 1 % (the benchmark's target)."""
    pairs = _quick_start_pairs(pd.concat(halves), batch_rows=150, count=100)

    reports = [drift_report(profile, batch, **RULE) for profile, batch in pairs]

    assert sum(max(report.feature_psi.values()) > 0.2 for report in reports) > 50  # PSI alone cries wolf
    assert {report.status for report in reports} <= {DriftStatus.STABLE, DriftStatus.DRIFTED}
    assert sum(report.status == DriftStatus.DRIFTED for report in reports) <= 1


def test_elevation_300_m_higher_is_flagged_in_1000_row_batches_even_against_120_rows(
    halves: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    reference, rest = halves
    pairs = [
        *_quick_start_pairs(pd.concat(halves), batch_rows=1_000, count=10),
        (build_profile(reference), rest[:1_000]),
    ]
    for profile, batch in pairs:
        report = drift_report(profile, batch.assign(Elevation=batch["Elevation"] + 300), **RULE)
        assert report.status == DriftStatus.DRIFTED and report.drifted[0] == "Elevation", report.feature_psi
        assert report.score == report.feature_psi["Elevation"] > 0.2


def test_too_few_rows_in_the_batch_or_the_reference_get_no_verdict_never_drifted(
    halves: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    reference, rest = halves
    small_batch = rest.iloc[:99]
    shifted = small_batch.assign(Elevation=small_batch["Elevation"] + 300)
    small_reference = build_profile(reference.iloc[:99])

    for report in (
        drift_report(build_profile(reference), shifted, **RULE),
        drift_report(
            small_reference, rest.iloc[:1_000].assign(Elevation=rest["Elevation"][:1_000] + 300), **RULE
        ),
    ):
        assert (report.status, report.score, report.drifted) == (DriftStatus.NOT_ENOUGH_ROWS, None, [])
        assert report.feature_psi["Elevation"] > 0.2  # measured and shown, not judged
    assert drift_report(build_profile(reference.iloc[:100]), rest.iloc[:100], **RULE).status.judged


def test_a_small_real_shift_of_a_58101_row_batch_is_beyond_chance_but_not_drift(
    halves: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    """With huge batches any real difference is significant: only a material one (PSI above the
    threshold) is drift. The score still shows the significant shift's size."""
    reference, rest = halves
    batch = rest.sample(58_101, replace=True, random_state=5)
    report = drift_report(build_profile(reference), batch.assign(Elevation=batch["Elevation"] + 30), **RULE)

    assert report.feature_p["Elevation"] < 1e-6 and 0 < report.feature_psi["Elevation"] < 0.2
    assert (report.status, report.drifted) == (DriftStatus.STABLE, [])
    assert report.score is not None and report.feature_psi["Elevation"] <= report.score < 0.2


def test_holm_multiplies_the_kth_smallest_p_value_by_the_features_left_and_keeps_the_order() -> None:
    adjusted = holm_adjusted({"a": 0.01, "b": 0.04, "c": 0.03, "d": 0.5})
    assert adjusted == pytest.approx({"a": 0.04, "c": 0.09, "b": 0.09, "d": 0.5})
    assert holm_adjusted({"a": 0.6, "b": 0.7}) == {"a": 1.0, "b": 1.0}


def test_the_two_sample_chi_square_counts_the_references_own_noise() -> None:
    """Against a huge reference it is about Pearson's statistic of the batch against the reference's shares
    (60/40 against 50/50 in 100 rows: 4); against a reference as small as the batch, half of it."""
    batch = np.array([60.0, 40.0])
    assert two_sample_chi_square(np.array([1e7, 1e7]), batch) == pytest.approx(4.0, rel=0.02)
    assert two_sample_chi_square(np.array([50.0, 50.0]), batch) == pytest.approx(2.0, rel=0.02)


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
    """The champion v3's ``batch_quality`` row for group 1 batch 6 (drifted when ``drifted`` is given, no
    verdict without a score)."""
    status = DriftStatus.STABLE if drift_score is not None else DriftStatus.NOT_ENOUGH_ROWS
    return BatchQuality(
        group_number=1,
        batch_number=6,
        model_version="3",
        rows=500,
        accuracy=accuracy,
        macro_f1=accuracy,
        drift_score=drift_score,
        drift_status=DriftStatus.DRIFTED if drifted else status,
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
    assert decide_retraining(signals(1_500, evaluated(0.86, 0.9, ["Aspect"])), THRESHOLDS).signal == DRIFT


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


def test_the_monitor_table_marks_drift_missing_profiles_and_batches_too_small_to_judge() -> None:
    common = {"group_number": 1, "model_version": "3", "rows": 150, "accuracy": 0.8123, "macro_f1": 0.7}
    rows = [
        BatchQuality(
            batch_number=1, drift_score=0.05, drift_status=DriftStatus.STABLE, drifted_features=[], **common,
            class_recall={}, feature_psi={}, evaluated_at=datetime(2026, 1, 1),
        ),
        BatchQuality(
            batch_number=2, drift_score=1.2, drift_status=DriftStatus.DRIFTED, drifted_features=["Elevation"],
            **common, class_recall={}, feature_psi={}, evaluated_at=datetime(2026, 1, 1),
        ),
        BatchQuality(
            batch_number=3, drift_score=None, drift_status=DriftStatus.NO_PROFILE, drifted_features=[],
            **common, class_recall={}, feature_psi={}, evaluated_at=datetime(2026, 1, 1),
        ),
        BatchQuality(
            batch_number=4, drift_score=None, drift_status=DriftStatus.NOT_ENOUGH_ROWS, drifted_features=[],
            **common, class_recall={}, feature_psi={"Aspect": 0.4}, evaluated_at=datetime(2026, 1, 1),
        ),
    ]  # fmt: skip
    console = Console(width=160, record=True, color_system=None)
    console.print(quality_table(rows, threshold=0.2))
    cells = [[cell.strip() for cell in line.split("│")[1:-1]] for line in console.export_text().splitlines()]
    drift = {row[1]: (row[6], row[7]) for row in cells if row}
    assert drift == {
        "1": ("0.050", "-"),
        "2": ("1.200", "Elevation"),
        "3": ("n/a", "-"),
        "4": ("too few rows", "-"),
    }
