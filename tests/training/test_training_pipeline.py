"""Training end to end against a real MLflow server (SQLite backend, artifacts in S3 served by moto)."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import mlflow.sklearn
import numpy as np
import pandas as pd
import pytest
from playwright.sync_api import expect, sync_playwright

from covertype.dataset import load_dataset
from covertype.processes import unused_port
from covertype.registry.client import mlflow_client
from covertype.registry.core import Registry
from covertype.registry.evidence import HoldoutComparison
from covertype.schema import FEATURE_COLUMNS
from covertype.settings import Settings
from covertype.store.engine import create_store_engine
from covertype.store.rows import read_stored_rows
from covertype.training.pipeline import check_new_data, run_training
from covertype.training.snapshot import content_digest, read_snapshot, take_snapshot
from support.training import S3_KEYS, boto_keys, fill_store, mlflow_server, moto_server

pytestmark = pytest.mark.slow

#: Rows stored before the first training; the rest of the sample arrives later in one test.
FIRST_ROWS = 14_000
SNAPSHOT_BUCKET = "covertype-snapshots"


@pytest.fixture(scope="module")
def sample(sample_csv: Path) -> pd.DataFrame:
    return load_dataset(sample_csv)


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    folder = tmp_path_factory.mktemp("servers")
    with (
        moto_server(unused_port(), folder / "moto.log") as s3_url,
        mlflow_server(unused_port(), folder, s3_url) as tracking_url,
    ):
        yield {"s3": s3_url, "tracking": tracking_url}


@pytest.fixture(scope="module")
def settings(
    servers: dict[str, str], sample: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Settings]:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("data"),
        mlflow_tracking_uri=servers["tracking"],
        snapshot_uri=f"s3://{SNAPSHOT_BUCKET}/snapshots",
        minio_endpoint=servers["s3"].removeprefix("http://"),
        minio_access_key=S3_KEYS["AWS_ACCESS_KEY_ID"],
        minio_secret_key=S3_KEYS["AWS_SECRET_ACCESS_KEY"],
        train_time_budget=1.0,
    )
    fill_store(settings.database, sample.head(FIRST_ROWS))
    yield settings


@pytest.fixture(scope="module")
def first_training(settings: Settings) -> dict[str, Any]:
    """Every candidate trained once on the stored sample (budget: 1 s of search each)."""
    return run_training(settings, Registry.from_settings(settings))


def test_full_training_registers_a_champion_that_loads_and_predicts(
    first_training: dict[str, Any], settings: Settings, sample: pd.DataFrame
) -> None:
    assert first_training["status"] == "trained"
    assert [c["name"] for c in first_training["candidates"]] == settings.candidate_names
    promotion = first_training["promotion"]
    assert promotion["promoted"] and promotion["alias"] == "champion" and promotion["reason"] == "first model"

    mlflow.set_tracking_uri(settings.tracking_uri)
    mlflow.set_registry_uri(settings.tracking_uri)
    model = mlflow.sklearn.load_model("models:/covertype@champion")
    records = sample[list(FEATURE_COLUMNS)].tail(5).astype({"Elevation": "int64"})
    probabilities = model.predict_proba(records)
    assert probabilities.shape == (5, 7) and np.allclose(probabilities.sum(axis=1), 1)
    assert list(model.classes_) == [1, 2, 3, 4, 5, 6, 7]

    client = mlflow_client(settings)
    version = client.get_model_version_by_alias("covertype", "champion")
    run = client.get_run(version.run_id)
    assert run.data.metrics["holdout_accuracy"] > 0.8
    assert run.data.metrics["holdout_macro_f1"] > 0.6
    for metric in (
        "holdout_log_loss",
        "holdout_recall_class_4",
        "holdout_accuracy_Rawah",
        "model_size_bytes",
        "onnx_single_p50_ms",
        "onnx_single_p99_ms",
        "onnx_batch_ms",
    ):
        assert metric in run.data.metrics
    assert run.data.tags["mlflow.parentRunId"] == first_training["parent_run_id"]
    assert run.data.tags["covertype.dag_id"] == "cli"
    assert run.data.tags["covertype.rows"] == str(FIRST_ROWS)
    assert run.data.tags["covertype.snapshot_digest"] == first_training["snapshot"]["digest"]
    assert [d.dataset.name for d in run.inputs.dataset_inputs] == ["forest_cover_snapshot"]
    artifacts = {item.path for item in client.list_artifacts(run.info.run_id)}
    assert {"confusion_matrix.png", "model_card.md", "classification_report.txt"} <= artifacts
    parent = client.get_run(first_training["parent_run_id"])
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["covertype.registered_version"] == version.version


def test_the_experiment_is_a_model_training_one_and_opens_on_its_runs(
    first_training: dict[str, Any], settings: Settings, servers: dict[str, str]
) -> None:
    """The tag ``mlflow.experimentKind`` is set on a new experiment and on an old one that lacks it; in
    Chromium, the MLflow UI's model-training view of the experiment lists the training's parent run."""
    client = mlflow_client(settings)
    experiment = client.get_experiment_by_name(settings.experiment_name)
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    old = settings.model_copy(update={"experiment_name": "covertype-before-the-tag"})
    old_id = client.create_experiment(old.experiment_name)
    assert Registry.from_settings(old).runs.ensure_experiment() == old_id
    assert client.get_experiment(old_id).tags["mlflow.experimentKind"] == "custom_model_development"

    parent = client.get_run(first_training["parent_run_id"]).info.run_name
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(
            f"{servers['tracking']}/#/experiments/{experiment.experiment_id}?workflowType=machine_learning"
        )
        expect(page.get_by_text(parent).first).to_be_visible(timeout=60_000)
        assert "/runs" in page.url
        browser.close()


def test_unchanged_data_is_skipped(first_training: dict[str, Any], settings: Settings) -> None:
    result = run_training(settings, Registry.from_settings(settings))
    assert result["status"] == "skipped" and result["new_rows"] == 0


def test_worse_candidate_becomes_challenger(first_training: dict[str, Any], settings: Settings) -> None:
    champion = first_training["registered"]["version"]
    result = run_training(settings, Registry.from_settings(settings), candidates="logreg", force=True)
    promotion = result["promotion"]
    assert not promotion["promoted"] and promotion["alias"] == "challenger"
    client = mlflow_client(settings)
    assert client.get_model_version_by_alias("covertype", "champion").version == champion
    challenger = client.get_model_version_by_alias("covertype", "challenger")
    assert challenger.version == result["registered"]["version"]
    tags = challenger.tags
    assert tags["covertype.promotion_decision"] == "rejected"
    assert tags["covertype.champion_version"] == champion
    champion_score = float(tags["covertype.champion_holdout_accuracy"])
    challenger_score = float(tags["covertype.challenger_holdout_accuracy"])
    assert challenger_score < champion_score
    # the champion was re-evaluated on the current holdout: the same score it was registered with
    assert champion_score == pytest.approx(first_training["registered"]["holdout_accuracy"])


def test_a_tie_keeps_the_champion_and_says_so(first_training: dict[str, Any], settings: Settings) -> None:
    """Two trainings of the same candidate on the same rows give two versions with the same accuracy."""
    tie = settings.model_copy(update={"model_name": "covertype-tie", "promotion_margin": 0.0})
    first = run_training(tie, Registry.from_settings(tie), candidates="logreg", time_budget=0.01, force=True)
    second = run_training(tie, Registry.from_settings(tie), candidates="logreg", time_budget=0.01, force=True)
    assert first["promotion"]["promoted"]
    promotion = second["promotion"]
    assert promotion["challenger_accuracy"] == promotion["champion_accuracy"]
    assert not promotion["promoted"] and promotion["alias"] == "challenger"
    champion, challenger = first["registered"]["version"], second["registered"]["version"]
    client = mlflow_client(tie)
    assert client.get_model_version_by_alias("covertype-tie", "champion").version == champion
    rejected = client.get_model_version_by_alias("covertype-tie", "challenger")
    assert rejected.version == challenger
    tags = rejected.tags
    same_rows = HoldoutComparison.from_tag(tags["covertype.holdout_comparison"])
    score = same_rows.text(champion, with_rows=False)
    assert score == same_rows.text(challenger, with_rows=False)
    decided = (
        f"accuracy {score} does not beat champion v{champion} {score} by more than the margin 0.0 "
        f"on the same {same_rows.rows:,} holdout rows"
    )
    noise = (
        r" \(gain \+0(\.0+)? points; exact McNemar p = 1: within noise\)"  # as many decimals as the interval
    )
    assert re.fullmatch(re.escape(decided) + noise, promotion["reason"]), promotion["reason"]
    assert tags["covertype.promotion_decision"] == "rejected"
    assert tags["covertype.promotion_reason"] == promotion["reason"]


def test_new_rows_make_training_due(
    first_training: dict[str, Any], settings: Settings, sample: pd.DataFrame, tmp_path: Path
) -> None:
    copy = tmp_path / "store.db"
    shutil.copy(settings.database.removeprefix("sqlite:///"), copy)
    grown = settings.model_copy(update={"database_url": f"sqlite:///{copy}", "min_new_rows": 500})
    fill_store(grown.database, sample.iloc[FIRST_ROWS : FIRST_ROWS + 499])
    assert not check_new_data(grown, Registry.from_settings(grown)).train
    fill_store(grown.database, sample.iloc[FIRST_ROWS + 499 :])
    decision = check_new_data(grown, Registry.from_settings(grown))
    assert decision.train and decision.new_rows == len(sample) - FIRST_ROWS


def test_snapshot_round_trips_through_s3(settings: Settings, servers: dict[str, str]) -> None:
    info = take_snapshot(settings)
    assert info.uri.startswith(f"s3://{SNAPSHOT_BUCKET}/snapshots/forest_cover-{FIRST_ROWS}-")
    s3 = boto3.client("s3", endpoint_url=servers["s3"], **boto_keys())
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=SNAPSHOT_BUCKET)["Contents"]]
    assert info.uri.removeprefix(f"s3://{SNAPSHOT_BUCKET}/") in keys
    frame = read_snapshot(info.uri, settings)
    assert len(frame) == info.rows and content_digest(frame) == info.digest
    stored = read_stored_rows(create_store_engine(settings.database))
    assert content_digest(stored) == info.digest
