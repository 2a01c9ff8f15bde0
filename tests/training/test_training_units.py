"""Fast checks of the training building blocks: split, snapshot, candidates, evaluation (no servers)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from covertype.dataset import load_dataset
from covertype.model.features import ENGINEERED_COLUMNS, TerrainFeatures
from covertype.schema import COVER_TYPES, FEATURE_COLUMNS, TARGET_COLUMN
from covertype.settings import Settings
from covertype.store.engine import create_store_engine
from covertype.store.row_hash import row_hashes
from covertype.store.rows import read_stored_rows
from covertype.training import candidates
from covertype.training.candidates import (
    CANDIDATES,
    build_pipeline,
    refit,
    resolve_candidates,
    search_candidate,
    search_sample,
    validation_split,
)
from covertype.training.evaluation import evaluate, pickled_size_bytes, save_confusion_matrix
from covertype.training.promotion import gate_refusals, wins
from covertype.training.snapshot import content_digest, read_snapshot, take_snapshot
from covertype.training.split import holdout_mask, scored_holdout, split_by_hash
from support.training import fill_store


@pytest.fixture(scope="module")
def sample(sample_csv: Path) -> pd.DataFrame:
    frame = load_dataset(sample_csv)
    frame["row_hash"] = row_hashes(frame)
    return frame


def test_holdout_is_stable_as_data_grows(sample: pd.DataFrame) -> None:
    first = holdout_mask(sample["row_hash"].head(5_000), 0.2)
    grown = holdout_mask(sample["row_hash"], 0.2)
    assert np.array_equal(first, grown[:5_000])  # no row moved between train and holdout
    assert 0.18 < grown.mean() < 0.22
    train, holdout = split_by_hash(sample, 0.2)
    assert len(train) + len(holdout) == len(sample)
    assert not set(train["row_hash"]) & set(holdout["row_hash"])


def test_holdout_fraction_must_be_a_share(sample: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        holdout_mask(sample["row_hash"], 1.0)


def test_digest_ignores_row_order_and_sees_content(sample: pd.DataFrame) -> None:
    head = sample.head(300)
    assert content_digest(head) == content_digest(head.iloc[::-1])
    changed = head.copy()
    changed.loc[changed.index[0], "Elevation"] += 1
    assert content_digest(changed) != content_digest(head)


def test_local_snapshot_dedups_and_round_trips(sample: pd.DataFrame, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    fill_store(settings.database, sample.head(400), batch_number=1)
    fill_store(settings.database, sample.head(600), batch_number=2)  # 400 rows seen twice
    engine = create_store_engine(settings.database)
    stored = read_stored_rows(engine)
    assert len(stored) == 600
    info = take_snapshot(settings, engine)
    assert info.rows == 600 and info.uri.startswith(str(tmp_path / "snapshots"))
    again = take_snapshot(settings, engine)
    assert again == info  # unchanged data: same file, same digest
    frame = read_snapshot(info.uri, settings)
    assert content_digest(frame) == info.digest
    expected = stored.sort_values("row_hash").reset_index(drop=True)
    pd.testing.assert_frame_equal(frame, expected, check_dtype=False)


def test_empty_store_cannot_be_snapshotted(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    with pytest.raises(ValueError, match="holds no rows"):
        take_snapshot(settings)


def test_unknown_candidate_is_named() -> None:
    with pytest.raises(ValueError, match="unknown candidate xgboost"):
        resolve_candidates(["hgb", "xgboost"])
    assert resolve_candidates(["logreg", "hgb", "logreg"]) == ["logreg", "hgb"]


def test_terrain_features_add_named_columns(sample: pd.DataFrame) -> None:
    transformed = TerrainFeatures().fit(sample).transform(sample.head(3))
    assert list(transformed.columns) == [*FEATURE_COLUMNS, *ENGINEERED_COLUMNS]
    with pytest.raises(ValueError, match="lacks the feature columns Soil_Type"):
        TerrainFeatures().fit(sample.drop(columns="Soil_Type"))


def test_soil_zones_are_the_elu_code_digits(sample: pd.DataFrame) -> None:
    """C7745: climatic zone 7, geologic zone 7; C2702: 2 and 7; C4201: 4 and 2."""
    rows = pd.concat([sample.head(1)] * 3, ignore_index=True).assign(Soil_Type=["C7745", "C2702", "C4201"])
    transformed = TerrainFeatures().fit(rows).transform(rows)
    assert transformed["Soil_Climatic_Zone"].tolist() == [7.0, 2.0, 4.0]
    assert transformed["Soil_Geologic_Zone"].tolist() == [7.0, 7.0, 2.0]


@pytest.mark.parametrize("name", list(CANDIDATES))
def test_every_candidate_is_a_pipeline_over_raw_features(name: str, sample: pd.DataFrame) -> None:
    rows = sample.head(1_500)
    small = {"n_estimators": 10} if "n_estimators" in CANDIDATES[name].defaults else None
    model = build_pipeline(name, small)
    with threadpool_limits(1):  # as search_candidate does: OpenMP threads crawl on a busy machine
        model.fit(rows[list(FEATURE_COLUMNS)], rows[TARGET_COLUMN])
    record = pd.DataFrame([{**rows[list(FEATURE_COLUMNS)].iloc[0].to_dict(), "Soil_Type": "C2702"}])
    assert model.predict_proba(record).shape == (1, len(np.unique(rows[TARGET_COLUMN])))


def test_search_stops_at_its_budget_and_the_refit_fits_every_row(sample: pd.DataFrame) -> None:
    rows = sample.head(2_000)
    features, target = rows[list(FEATURE_COLUMNS)], rows[TARGET_COLUMN]
    result = search_candidate("logreg", features, target, time_budget=0.5)
    assert result.trials >= 1 and result.search_seconds < 10 and result.search_rows == len(rows)
    assert 0.01 <= result.params["C"] <= 100
    assert 0.5 < result.validation_accuracy <= 1
    fitted = refit("logreg", result.params, features, target, seed=42, threads=1)
    assert fitted.model.n_features_in_ == len(FEATURE_COLUMNS) and fitted.seconds > 0
    assert result.params["C"] == fitted.model[-1].C


def test_the_search_sees_a_stratified_sample_and_the_refit_every_row(sample: pd.DataFrame) -> None:
    """At most ``search_rows`` rows searched, the classes in the same shares; the refit on all of them, on
    two threads, and the model keeps the ``n_jobs`` it was searched with."""
    features, target = sample[list(FEATURE_COLUMNS)], sample[TARGET_COLUMN]
    sample_x, sample_y = search_sample(features, target, 3_000, seed=42)
    assert len(sample_x) == 3_000 and sample_x.index.equals(sample_y.index)
    shares = target.value_counts(normalize=True)
    assert (sample_y.value_counts(normalize=True) - shares).abs().max() < 0.002
    assert search_sample(features, target, None, seed=42)[0] is features

    small = {"n_estimators": 8, "max_leaf_nodes": 200}
    result = search_candidate("extra_trees", features, target, time_budget=0.1, search_rows=3_000, seed=42)
    assert result.search_rows == 3_000 and result.trials == 1  # the defaults alone within 0.1 s
    fitted = refit("extra_trees", {**result.params, **small}, features, target, seed=42, threads=2)
    forest = fitted.model[-1]
    assert fitted.threads == 2 and forest.n_jobs == CANDIDATES["extra_trees"].build(42)[-1].n_jobs
    assert sum(tree.tree_.n_node_samples[0] for tree in forest.estimators_) > 8 * 3_000  # all 15,000 rows


@pytest.mark.parametrize("name", ["extra_trees", "random_forest"])
def test_a_forest_refit_on_more_rows_than_the_cap_grows_each_tree_from_a_bounded_sample(
    sample: pd.DataFrame, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Beyond ``FOREST_TREE_ROWS`` rows each tree draws that many (so the refit's cost stops growing);
    at or below it, the forest is what it was."""
    monkeypatch.setattr(candidates, "FOREST_TREE_ROWS", 5_000)
    features, target = sample[list(FEATURE_COLUMNS)], sample[TARGET_COLUMN]
    small = {"n_estimators": 4, "max_leaf_nodes": 200}
    forest = refit(name, small, features, target, seed=42, threads=1).model[-1]
    assert forest.bootstrap and forest.max_samples == 5_000
    assert {tree.tree_.weighted_n_node_samples[0] for tree in forest.estimators_} == {5_000}
    assert candidates.adapt_to_data(name, target.head(5_000)) == {}
    assert candidates.adapt_to_data("lightgbm", target) == {}


def test_evaluation_reports_overall_class_and_slice_metrics(sample: pd.DataFrame, tmp_path: Path) -> None:
    train, holdout = split_by_hash(sample.head(3_000), 0.2)
    model = build_pipeline("extra_trees", {"n_estimators": 20})
    model.fit(train[list(FEATURE_COLUMNS)], train[TARGET_COLUMN])
    evaluation = evaluate(model, holdout)
    metrics = evaluation.metrics
    assert 0.6 < metrics["holdout_accuracy"] <= 1 and 0 < metrics["holdout_macro_f1"] <= 1
    assert metrics["holdout_log_loss"] > 0
    assert {f"holdout_recall_class_{label}" for label in COVER_TYPES} <= metrics.keys()
    assert "holdout_accuracy_Rawah" in metrics
    assert evaluation.confusion.shape == (7, 7) and evaluation.confusion.sum() == len(holdout)
    assert "Lodgepole Pine" in evaluation.report
    assert pickled_size_bytes(model) > 10_000
    image = save_confusion_matrix(evaluation.confusion, tmp_path / "cm.png", title="test")
    assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("challenger", "champion", "margin", "promoted"),
    [
        (0.6111, 0.6111, 0.0, False),  # a tie keeps the champion
        (0.6211, 0.6111, 0.01, False),  # exactly the margin (0.010000000000000009 in floats) is no win
        (0.6112, 0.6111, 0.0, True),
        (0.6212, 0.6111, 0.01, True),
        (0.60, 0.6111, 0.0, False),
    ],
)
def test_only_a_strict_gain_over_the_margin_wins(
    challenger: float, champion: float, margin: float, promoted: bool
) -> None:
    assert wins(challenger - champion, margin) is promoted


@pytest.mark.parametrize(
    ("size_bytes", "batch_ms", "size_refusal", "latency_refusal"),
    [
        (2_000_000, 14.99, None, None),
        (2_000_000, 15.0, None, None),  # the budget itself is accepted
        (2_000_000, 15.01, None, "a 1,000-row batch takes 15.01 ms in the ONNX graph, over COVERTYPE_MAX_"),
        (3_000_001, 9.0, "ONNX graph 3.00 MB exceeds COVERTYPE_MAX_MODEL_MB=3", None),
        (None, None, "has no ONNX graph", "was not timed on a 1,000-row batch: its latency is unknown"),
    ],
)
def test_the_size_and_latency_gates_name_the_budget_they_refuse(
    size_bytes: int | None, batch_ms: float | None, size_refusal: str | None, latency_refusal: str | None
) -> None:
    settings = Settings(max_model_mb=3, max_batch_ms=15)
    refusals = gate_refusals(settings, size_bytes, batch_ms)
    for tag, expected in (("covertype.size_gate", size_refusal), ("covertype.latency_gate", latency_refusal)):
        refusal = refusals[tag]
        assert refusal is None if expected is None else (refusal or "").startswith("refused: ")
        assert expected is None or expected in (refusal or "")


def test_hgb_trains_on_a_first_small_batch_where_a_class_has_one_row(sample: pd.DataFrame) -> None:
    """150 rows as the first batches bring them: HGB's stratified early-stopping split cannot be made."""
    first_rows = sample.head(150)
    assert first_rows[TARGET_COLUMN].value_counts().min() == 1
    features, target = first_rows[list(FEATURE_COLUMNS)], first_rows[TARGET_COLUMN]
    result = search_candidate("hgb", features, target, time_budget=1)
    assert result.params["early_stopping"] is False
    model = refit("hgb", result.params, features, target, seed=42, threads=1).model
    assert set(model.predict(features)) <= set(COVER_TYPES)

    # Enough rows of every class: early stopping stays on.
    enough = sample.head(3_000)
    result = search_candidate("hgb", enough[list(FEATURE_COLUMNS)], enough[TARGET_COLUMN], time_budget=1)
    assert "early_stopping" not in result.params


def test_hgb_trains_when_the_single_row_of_a_class_falls_in_the_search_validation_share(
    sample: pd.DataFrame,
) -> None:
    """A first training's ~120 rows, one class seen once, and that row in the search's validation share:
    the search's fit can stop early, but the refit on all rows cannot stratify its stopping split."""
    rare = sample[sample[TARGET_COLUMN] == 4].head(1)
    frame = pd.concat([rare, sample[sample[TARGET_COLUMN].isin([1, 2])].head(119)], ignore_index=True)
    features, target = frame[list(FEATURE_COLUMNS)], frame[TARGET_COLUMN]
    _, _, fit_target, _ = validation_split(features, target, 42)
    assert 4 not in set(fit_target) and fit_target.value_counts().min() >= 2  # the case this test is for

    result = search_candidate("hgb", features, target, time_budget=1)

    assert result.params["early_stopping"] is False
    model = refit("hgb", result.params, features, target, seed=42, threads=1).model
    assert set(model.predict(features)) <= {1, 2, 4}


def test_hgb_refits_when_the_rare_class_is_missing_from_the_search_sample(sample: pd.DataFrame) -> None:
    """The search's sample can stop early; the refit on all rows holds the class's single row, so the
    refit itself turns early stopping off."""
    rare = sample[sample[TARGET_COLUMN] == 4].head(1)
    frame = pd.concat([sample[sample[TARGET_COLUMN].isin([1, 2])].head(3_000), rare], ignore_index=True)
    features, target = frame[list(FEATURE_COLUMNS)], frame[TARGET_COLUMN]
    _, searched_target = search_sample(features, target, 2_000, seed=42)
    assert 4 not in set(searched_target)  # the case this test is for (one row: drawn at random, unstratified)
    result = search_candidate("hgb", features, target, time_budget=0.5, search_rows=2_000)
    assert "early_stopping" not in result.params
    model = refit("hgb", result.params, features, target, seed=42, threads=1).model
    assert model[-1].early_stopping is False and set(model.predict(features)) <= {1, 2, 4}


def test_every_candidate_name_has_a_candidate_and_is_trained_by_default() -> None:
    """settings.CANDIDATE_NAMES is the one list: the CLI's help, the default COVERTYPE_CANDIDATES, and
    training's CANDIDATES (one candidate per name, in that order)."""
    from covertype.settings import CANDIDATE_NAMES

    assert list(CANDIDATES) == list(CANDIDATE_NAMES)
    assert all(CANDIDATES[name].name == name for name in CANDIDATE_NAMES)
    assert Settings().candidate_names == list(CANDIDATE_NAMES)


def test_models_are_scored_on_a_bounded_holdout_chosen_by_row_hash(sample: pd.DataFrame) -> None:
    """At most N rows, the same for any order of the rows, and most of them kept as the holdout grows."""
    rows = sample.assign(row_hash=row_hashes(sample))
    small = rows.head(500)
    assert scored_holdout(small, rows=1_000) is small  # a holdout within the bound: all of it
    first = scored_holdout(rows.head(10_000), rows=1_000)
    assert len(first) == 1_000
    shuffled = scored_holdout(rows.head(10_000).sample(frac=1, random_state=1), rows=1_000)
    assert first["row_hash"].tolist() == shuffled["row_hash"].tolist()
    grown = scored_holdout(rows, rows=1_000)  # 15,000 rows: a third more
    kept = set(first["row_hash"]) & set(grown["row_hash"])
    assert len(kept) >= 600, len(kept)
