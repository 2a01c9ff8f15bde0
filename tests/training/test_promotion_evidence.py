"""What a promotion records about noise: the paired test of the gain and the versions on the same rows.

Two versions trained by the real pipeline on one real (SQLite) MLflow store; the figures the tags carry
are checked against each other and against the textbook values of the Wilson interval and McNemar's test.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from scipy.stats import binomtest

from covertype.dataset import load_dataset
from covertype.registry import tags
from covertype.registry.client import mlflow_client
from covertype.registry.evidence import (
    HoldoutComparison,
    accuracy_text,
    gain_verdict,
    mcnemar_p_value,
    wilson_interval,
)
from covertype.settings import Settings
from support.inference import registry_settings, train_version


def test_the_wilson_interval_has_its_textbook_values() -> None:
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)
    assert wilson_interval(29, 38) == pytest.approx((0.6079, 0.8701), abs=1e-4)
    assert wilson_interval(5, 0) == (0.0, 1.0)


@pytest.mark.parametrize(
    ("correct", "rows", "text"),
    [
        (29, 38, "76% (61–87%) on 38 rows"),  # ±13 points: no decimal
        (2_600, 3_020, "86.1% (84.8–87.3%) on 3,020 rows"),  # ±1.2 points: one
        (499_000, 580_000, "86.03% (85.95–86.12%) on 580,000 rows"),  # ±0.09 points: two
        (3, 0, "no rows"),
    ],
)
def test_an_accuracy_shows_its_interval_and_rows_at_the_precision_they_allow(
    correct: int, rows: int, text: str
) -> None:
    assert accuracy_text(correct, rows) == text


@pytest.mark.parametrize(
    ("only_first", "only_second", "p_value"),
    [(0, 6, 2 / 64), (1, 5, 2 * 7 / 64), (5, 1, 2 * 7 / 64), (3, 3, 1.0), (0, 0, 1.0), (20, 45, 0.002626)],
)
def test_the_exact_mcnemar_test_counts_the_discordant_rows(
    only_first: int, only_second: int, p_value: float
) -> None:
    assert mcnemar_p_value(only_first, only_second) == pytest.approx(p_value, rel=1e-3)
    discordant = only_first + only_second
    if discordant:  # the same as SciPy's exact binomial test of the split against a fair coin
        assert mcnemar_p_value(only_first, only_second) == pytest.approx(
            binomtest(only_first, discordant).pvalue, rel=1e-9
        )


@pytest.fixture(scope="module")
def two_trainings(tmp_path_factory: pytest.TempPathFactory, sample_csv: Path) -> Settings:
    settings = registry_settings(tmp_path_factory.mktemp("evidence"))
    frame: pd.DataFrame = load_dataset(sample_csv).head(800)
    train_version(settings, frame, candidates="logreg")
    train_version(settings, frame, candidates="extra_trees")
    return settings


def test_a_promotion_says_whether_its_gain_is_beyond_the_noise_of_the_shared_rows(
    two_trainings: Settings,
) -> None:
    labels = mlflow_client(two_trainings).get_model_version("covertype", "2").tags
    comparison = HoldoutComparison.from_tag(labels[tags.HOLDOUT_COMPARISON_TAG])
    assert comparison.version == "2" and set(comparison.correct) == {"1", "2"}
    assert comparison.accuracy("2") == pytest.approx(float(labels[tags.CHALLENGER_ACCURACY_TAG]), abs=1e-6)
    assert comparison.accuracy("1") == pytest.approx(float(labels[tags.CHAMPION_ACCURACY_TAG]), abs=1e-6)

    only_new, only_champion, of_rows = labels[tags.GAIN_ROWS_TAG].replace(" of ", " / ").split(" / ")
    assert int(of_rows) == comparison.rows > 0
    # paired counts: the difference of the right answers is the difference of the discordant rows
    assert int(only_new) - int(only_champion) == comparison.correct["2"] - comparison.correct["1"]
    p_value = mcnemar_p_value(int(only_new), int(only_champion))
    assert float(labels[tags.GAIN_P_VALUE_TAG]) == pytest.approx(p_value, rel=1e-3)
    assert labels[tags.GAIN_VERDICT_TAG] == gain_verdict(p_value)
    reason = labels[tags.REASON_TAG]
    assert f"on the same {comparison.rows:,} holdout rows" in reason
    assert comparison.text("2", with_rows=False) in reason and comparison.text("1", with_rows=False) in reason
    assert f"exact McNemar p = {p_value:.2g}: {gain_verdict(p_value)}" in reason


def test_the_first_version_has_no_champion_to_compare_and_compares_itself(two_trainings: Settings) -> None:
    labels = mlflow_client(two_trainings).get_model_version("covertype", "1").tags
    assert labels[tags.GAIN_VERDICT_TAG] == "no champion to compare"
    comparison = HoldoutComparison.from_tag(labels[tags.HOLDOUT_COMPARISON_TAG])
    assert set(comparison.correct) == {"1"}
    assert sum(comparison.area_rows.values()) == comparison.rows
    assert sum(comparison.area_correct["1"].values()) == comparison.correct["1"]
