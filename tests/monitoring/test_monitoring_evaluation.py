"""Test-then-train with a real champion: trained by the pipeline on part of the sample, scored on the rest."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import mlflow.sklearn
import pandas as pd
import pytest
from mlflow.artifacts import download_artifacts
from mlflow.tracking import MlflowClient
from sklearn.metrics import accuracy_score, f1_score
from sqlalchemy import create_engine, func, select

from covertype.dataset import load_dataset
from covertype.monitoring.evaluation import evaluate_batch
from covertype.monitoring.profile import ReferenceProfile
from covertype.processes import unused_port
from covertype.registry.core import Registry
from covertype.registry.tags import MONITORING_RUN_TAG, PROFILE_TAG
from covertype.schema import FEATURE_COLUMNS, TARGET_COLUMN
from covertype.settings import Settings
from covertype.store.engine import create_store_engine
from covertype.store.quality import batch_quality_rows, latest_batch_quality, record_batch_quality
from covertype.store.tables import batch_quality
from support.data_api import data_api_server, data_api_settings
from support.inference import registry_settings, train_version
from support.store import STORES, count_rows
from support.training import fill_store

pytestmark = pytest.mark.slow

TRAIN_ROWS, BATCH_ROWS = 4_000, 500
CLEAN, SHIFTED, NO_PROFILE = 2, 3, 4


@pytest.fixture(scope="module")
def sample(sample_csv: Path) -> pd.DataFrame:
    return load_dataset(sample_csv).sample(frac=1.0, random_state=3).reset_index(drop=True)


def batch(sample: pd.DataFrame, number: int) -> pd.DataFrame:
    """Batch ``number`` (2, 3, ...): rows the champion was not trained on; batch 3 has Elevation + 300 m."""
    start = TRAIN_ROWS + (number - 2) * BATCH_ROWS
    rows = sample.iloc[start : start + BATCH_ROWS]
    return rows.assign(Elevation=rows["Elevation"] + 300) if number == SHIFTED else rows


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory, sample: pd.DataFrame) -> Iterator[Settings]:
    """A champion (logreg, the pipeline's own training) on batch 1; batches 2-4 stored after it."""
    settings = registry_settings(tmp_path_factory.mktemp("monitoring"))
    trained = train_version(settings, sample.head(TRAIN_ROWS), candidates="logreg")
    assert trained["promotion"]["promoted"], trained
    for number in (CLEAN, SHIFTED, NO_PROFILE):
        fill_store(settings.database, batch(sample, number), batch_number=number)
    yield settings


@pytest.fixture(scope="module")
def evaluated(settings: Settings) -> dict[int, Any]:
    return {number: evaluate_batch(settings, 1, number) for number in (CLEAN, SHIFTED)}


def _champion(settings: Settings) -> Any:
    client = MlflowClient(tracking_uri=settings.tracking_uri, registry_uri=settings.tracking_uri)
    return client.get_model_version_by_alias(settings.model_name, settings.model_alias)


def test_the_registered_version_carries_its_reference_profile(settings: Settings, tmp_path: Path) -> None:
    version = _champion(settings)
    local = download_artifacts(
        run_id=version.run_id,
        artifact_path=version.tags[PROFILE_TAG],
        dst_path=str(tmp_path),
        tracking_uri=settings.tracking_uri,
    )
    profile = ReferenceProfile.from_json(Path(local).read_text())
    # The training split only (the holdout is a fifth of the rows, chosen by row_hash).
    assert 0.7 * TRAIN_ROWS < profile.rows < 0.9 * TRAIN_ROWS
    assert set(profile.numeric) | set(profile.categorical) == set(FEATURE_COLUMNS)


def test_the_champions_accuracy_on_a_batch_is_the_one_computed_independently(
    settings: Settings, evaluated: dict[int, Any], sample: pd.DataFrame, tmp_path: Path
) -> None:
    version = _champion(settings)
    folder = Registry.from_settings(settings).download_version(str(version.version), tmp_path)
    rows = batch(sample, CLEAN)
    predicted = mlflow.sklearn.load_model(folder).predict(rows[list(FEATURE_COLUMNS)])

    result = evaluated[CLEAN]
    assert result.status == "evaluated", result
    quality = result.quality
    assert (quality.group_number, quality.batch_number, quality.model_version) == (
        1,
        CLEAN,
        str(version.version),
    )
    assert quality.rows == BATCH_ROWS
    assert quality.accuracy == pytest.approx(accuracy_score(rows[TARGET_COLUMN], predicted))
    assert quality.macro_f1 == pytest.approx(f1_score(rows[TARGET_COLUMN], predicted, average="macro"))
    [stored] = [
        row for row in batch_quality_rows(create_store_engine(settings.database)) if row.batch_number == CLEAN
    ]
    assert stored == quality


def test_a_clean_batch_is_not_flagged_and_a_shifted_one_is_on_elevation(evaluated: dict[int, Any]) -> None:
    clean, shifted = evaluated[CLEAN].quality, evaluated[SHIFTED].quality
    assert clean.drifted_features == [] and clean.drift_score < 0.2, clean.feature_psi
    assert shifted.drifted_features == ["Elevation"], shifted.feature_psi
    assert shifted.drift_score == shifted.feature_psi["Elevation"] > 0.2
    assert shifted.accuracy < clean.accuracy  # the shift hurts the champion, as it should


def test_metrics_land_on_the_versions_monitoring_run_with_the_batch_as_step(
    settings: Settings, evaluated: dict[int, Any]
) -> None:
    version = _champion(settings)
    client = MlflowClient(tracking_uri=settings.tracking_uri)
    run = client.get_run(version.tags[MONITORING_RUN_TAG])
    assert run.data.tags["covertype.kind"] == "monitoring"
    assert run.data.tags["covertype.model_version"] == str(version.version)
    history = client.get_metric_history(run.info.run_id, "batch_accuracy")
    points = {point.step: point.value for point in history if point.step in (CLEAN, SHIFTED)}
    assert points == {
        number: pytest.approx(evaluated[number].quality.accuracy) for number in (CLEAN, SHIFTED)
    }
    drift = {p.step: p.value for p in client.get_metric_history(run.info.run_id, "batch_drift_score")}
    assert drift[SHIFTED] > 0.2 > drift[CLEAN]


def test_a_version_without_profile_gets_accuracy_but_no_drift(settings: Settings) -> None:
    version = _champion(settings)
    client = MlflowClient(tracking_uri=settings.tracking_uri, registry_uri=settings.tracking_uri)
    client.delete_model_version_tag(settings.model_name, version.version, PROFILE_TAG)
    try:
        result = evaluate_batch(settings, 1, NO_PROFILE)
    finally:
        client.set_model_version_tag(
            settings.model_name, version.version, PROFILE_TAG, "monitoring/reference_profile.json"
        )
    assert result.status == "evaluated" and "drift unavailable" in result.detail
    assert result.quality.drift_score is None and result.quality.feature_psi == {}
    assert 0.3 < result.quality.accuracy <= 1.0


def test_no_champion_records_nothing_and_says_so(tmp_path: Path, sample: pd.DataFrame) -> None:
    settings = registry_settings(tmp_path)
    fill_store(settings.database, sample.head(50), batch_number=1)
    result = evaluate_batch(settings, 1, 1)
    assert result.status == "skipped" and "no champion" in result.detail
    assert batch_quality_rows(create_store_engine(settings.database)) == []


@pytest.fixture(params=STORES)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty store migrated to the newest schema: a SQLite file or a throw-away MariaDB database."""
    url = (
        f"sqlite:///{tmp_path / 'store.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("mariadb_url")
    )
    from covertype.store.migrate import upgrade_schema

    upgrade_schema(create_store_engine(url))
    return url


def test_re_running_an_evaluation_changes_nothing(
    settings: Settings, store_url: str, sample: pd.DataFrame
) -> None:
    number = 10 if store_url.startswith("sqlite") else 11  # one step per store on the shared monitoring run
    on_store = settings.model_copy(update={"database_url": store_url})
    fill_store(store_url, batch(sample, CLEAN), batch_number=number)

    first = evaluate_batch(on_store, 1, number)
    engine = create_engine(store_url)
    before = batch_quality_rows(engine)
    second = evaluate_batch(on_store, 1, number)

    assert first.status == "evaluated" and second.status == "unchanged", second
    assert batch_quality_rows(engine) == before and len(before) == 1
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(batch_quality)).scalar_one() == 1
    assert latest_batch_quality(engine, model_version=first.quality.model_version) == first.quality
    engine.dispose()
    client = MlflowClient(tracking_uri=settings.tracking_uri)
    run_id = _champion(settings).tags[MONITORING_RUN_TAG]
    steps = [point.step for point in client.get_metric_history(run_id, "batch_accuracy")]
    assert steps.count(number) == 1


def _covertype(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The ``covertype`` command as typed, with only ``env``'s settings."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("COVERTYPE_", "MLFLOW_"))}
    command = [str(Path(sys.executable).parent / "covertype"), *args]
    return subprocess.run(command, env={**clean, "COLUMNS": "150", **env}, capture_output=True, text=True)


def test_a_re_run_logs_to_mlflow_what_an_earlier_run_stored_but_could_not_log(
    settings: Settings, evaluated: dict[int, Any]
) -> None:
    """The row is written before MLflow is: when MLflow failed, the retry completes the monitoring run."""
    number = 12
    orphan = replace(evaluated[CLEAN].quality, batch_number=number, accuracy=0.5)
    engine = create_store_engine(settings.database)
    record_batch_quality(engine, orphan)  # as if the first attempt died right after storing its row
    engine.dispose()

    first, second = evaluate_batch(settings, 1, number), evaluate_batch(settings, 1, number)

    assert (first.status, first.quality, second.status) == ("unchanged", orphan, "unchanged")
    client = MlflowClient(tracking_uri=settings.tracking_uri)
    history = client.get_metric_history(_champion(settings).tags[MONITORING_RUN_TAG], "batch_accuracy")
    assert [point.value for point in history if point.step == number] == [0.5]


def test_monitor_lists_the_rows_as_json_and_as_a_table(settings: Settings, evaluated: dict[int, Any]) -> None:
    listed = _covertype("monitor", "--json", "--group", "1", COVERTYPE_DATABASE_URL=settings.database)
    table = _covertype("monitor", COVERTYPE_DATABASE_URL=settings.database)
    other_group = _covertype("monitor", "--json", "--group", "2", COVERTYPE_DATABASE_URL=settings.database)

    assert listed.returncode == 0, listed.stderr
    rows = {row["batch_number"]: row for row in json.loads(listed.stdout)}
    assert rows[SHIFTED]["drifted_features"] == ["Elevation"]
    assert rows[CLEAN]["accuracy"] == pytest.approx(evaluated[CLEAN].quality.accuracy)
    assert "Elevation" in table.stdout and f"{evaluated[CLEAN].quality.accuracy:.4f}" in table.stdout
    assert json.loads(other_group.stdout) == []


def test_covertype_ingest_evaluates_the_batch_it_stored(
    settings: Settings, sample_csv: Path, tmp_path: Path
) -> None:
    store = f"sqlite:///{tmp_path / 'store.db'}"
    api_settings = data_api_settings(tmp_path, sample_csv, groups=1, batches=3)
    with data_api_server(api_settings, port=unused_port()) as url:
        ingested = _covertype(
            "ingest",
            COVERTYPE_DATABASE_URL=store,
            COVERTYPE_DATA_API_URL=url,
            MLFLOW_TRACKING_URI=settings.tracking_uri,
        )
    assert ingested.returncode == 0, ingested.stderr
    answer = json.loads(ingested.stdout)
    evaluation = answer["evaluation"]
    assert evaluation["status"] == "evaluated", evaluation
    assert (evaluation["group_number"], evaluation["batch_number"]) == (1, answer["batch_number"])
    assert evaluation["rows"] == answer["rows_inserted"] > 0
    assert count_rows(store, "batch_quality") == 1
