"""A tiny run of ``benchmarks/bench_shift.py``'s replay: Elevation shifted from the middle on is flagged on
Elevation and retrains for that reason; the clean batch before it shows no drift."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from covertype.dataset import load_dataset
from covertype.monitoring.retrain import ACCURACY_DROP, DRIFT
from support.paths import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
from bench_shift import ReplayConfig, Scenario, covariate_shift, prior_shift, replay  # noqa: E402

pytestmark = pytest.mark.slow

#: 4 batches of 750 rows, batches 3 and 4 shifted; new rows alone never trigger a training after the first.
TINY = ReplayConfig(batches=4, candidates="logreg", time_budget=0.5, min_new_rows=1_000_000)


def test_a_shifted_elevation_is_flagged_on_elevation_and_a_clean_batch_is_not(
    tmp_path: Path, sample_csv: Path
) -> None:
    frame = load_dataset(sample_csv).head(3_000)
    scenario = Scenario("covariate", "Elevation +300", covariate_shift("Elevation", 300))

    report = replay(frame, scenario, TINY, tmp_path)

    first, clean, *shifted = report["batches"]
    assert "accuracy" not in first and first["retraining"]["trained"]  # no champion yet: trained on it
    # Drift only: with a champion trained on 600 rows, the accuracy signal is too noisy to pin down here.
    assert clean["drifted_features"] == [] and "drift" not in clean["flags"], clean
    for batch in shifted:
        assert batch["shifted"] and batch["flagged"] and "drift" in batch["flags"], batch
        assert batch["drifted_features"][0] == "Elevation", batch  # the largest PSI is the shifted feature
    assert shifted[0]["retraining"]["trained"], shifted[0]
    assert shifted[0]["retraining"]["signal"] in (ACCURACY_DROP, DRIFT), shifted[0]
    assert "retraining" not in shifted[-1]  # nothing would score a training after the last batch
    assert report["summary"]["shifted_batches_flagged"] == "2/2"
    assert report["summary"]["clean_batches_drift_flagged"] == "0/1"


def test_a_prior_shift_sets_the_class_share_by_dropping_rows(sample_csv: Path) -> None:
    frame = load_dataset(sample_csv).head(2_000)
    for share in (0.1, 0.8):
        shifted = prior_shift(2, share)(frame, np.random.default_rng(0))
        assert abs((shifted["Cover_Type"] == 2).mean() - share) < 0.01
        assert len(shifted) < len(frame) and shifted.index.is_unique  # rows dropped, none repeated


def test_a_changed_mix_of_classes_is_flagged_on_the_label_and_retrains_for_drift(
    tmp_path: Path, sample_csv: Path
) -> None:
    """Class 2 (about half of the rows) cut to 10 % of each batch from the middle on: the rows themselves
    are unchanged, so the label's PSI is what flags it."""
    frame = load_dataset(sample_csv).head(3_000)
    scenario = Scenario("prior", "class 2 at 10 %", prior_shift(2, 0.1))

    report = replay(frame, scenario, TINY, tmp_path)

    _, clean, first_shifted, _ = report["batches"]
    assert "Cover_Type" not in clean["drifted_features"] and "drift" not in clean["flags"], clean
    assert first_shifted["drifted_features"][0] == "Cover_Type", first_shifted
    assert first_shifted["retraining"]["trained"], first_shifted
    assert first_shifted["retraining"]["signal"] in (ACCURACY_DROP, DRIFT), first_shifted
