"""``GET /model`` and ``/metrics`` tell how the served champion did on the latest batch it scored.

The champion is trained by the training pipeline, the batches are stored as ingestion stores them and
scored by the real test-then-train evaluation (:func:`covertype.monitoring.evaluation.evaluate_batch`),
which writes ``batch_quality`` with the store's own function.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from covertype.dataset import load_dataset
from covertype.inference.app import create_app
from covertype.inference.batch_quality import ChampionBatchQuality
from covertype.inference.metrics import ServiceMetrics
from covertype.monitoring.evaluation import evaluate_batch
from covertype.settings import Settings
from covertype.store.engine import store_engine
from covertype.store.quality import latest_batch_quality, record_batch_quality
from support.inference import registry_settings, train_version
from support.training import fill_store

pytestmark = pytest.mark.slow

TRAIN_ROWS, BATCH_ROWS = 3_000, 400


@pytest.fixture(scope="module")
def sample(sample_csv: Path) -> pd.DataFrame:
    return load_dataset(sample_csv).sample(frac=1.0, random_state=5).reset_index(drop=True)


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory, sample: pd.DataFrame) -> Settings:
    """Champion v1 (the pipeline's logreg on batch 1); batches 2 and 3 stored after it, not yet scored.

    The alias poll (and so the batch-quality TTL) is 30 s: within a test, only a reload reads again.
    """
    settings = registry_settings(tmp_path_factory.mktemp("batch-quality"), model_poll_interval=30.0)
    assert train_version(settings, sample.head(TRAIN_ROWS), candidates="logreg")["promotion"]["promoted"]
    for number in (2, 3):
        start = TRAIN_ROWS + (number - 2) * BATCH_ROWS
        fill_store(settings.database, sample.iloc[start : start + BATCH_ROWS], batch_number=number)
    return settings


def _ready(client: TestClient) -> None:
    deadline = time.monotonic() + 60
    while client.get("/ready").status_code != 200:
        assert time.monotonic() < deadline, client.get("/ready").json()
        time.sleep(0.1)


def _gauges(client: TestClient) -> list[str]:
    lines = client.get("/metrics").text.splitlines()
    return [line for line in lines if line.startswith("covertype_champion")]


def test_model_and_metrics_carry_the_latest_batch_the_champion_scored(settings: Settings) -> None:
    engine = store_engine(settings)
    try:
        with TestClient(create_app(settings)) as client:
            _ready(client)
            assert client.get("/model").json()["latest_batch"] is None  # nothing scored yet
            assert _gauges(client) == []

            for number in (2, 3):
                assert evaluate_batch(settings, 1, number).status == "evaluated"
            assert client.get("/model").json()["latest_batch"] is None  # read at load, not per request

            reloaded = client.post("/model/reload").json()
            stored = latest_batch_quality(engine, model_version="1")
            assert stored is not None and stored.batch_number == 3
            assert reloaded["changed"] is False
            assert reloaded["model"]["latest_batch"] == {
                "group_number": 1,
                "batch_number": 3,
                "rows": BATCH_ROWS,
                "accuracy": pytest.approx(stored.accuracy),
                "macro_f1": pytest.approx(stored.macro_f1),
                "drift_score": pytest.approx(stored.drift_score),
                "drift_status": "stable",
                "drifted_features": stored.drifted_features,
                "evaluated_at": stored.evaluated_at.isoformat(),
            }
            assert client.get("/model").json() == reloaded["model"]
            assert 0.5 < stored.accuracy <= 1 and stored.drift_score is not None
            gauges = _gauges(client)
            assert f'covertype_champion_batch_accuracy{{version="1"}} {stored.accuracy!r}' in gauges
            assert 'covertype_champion_batch_number{group="1",version="1"} 3.0' in gauges
            assert f'covertype_champion_batch_drift_score{{version="1"}} {stored.drift_score!r}' in gauges
            assert (
                f'covertype_champion_batch_drifted_features{{version="1"}} '
                f"{float(len(stored.drifted_features))!r}" in gauges
            )

            # A row of another version (one not served) changes nothing.
            record_batch_quality(engine, dataclasses.replace(stored, batch_number=4, model_version="9"))
            assert client.post("/model/reload").json()["model"]["latest_batch"]["batch_number"] == 3
    finally:
        engine.dispose()


def test_the_figures_are_read_again_once_the_ttl_is_over(settings: Settings) -> None:
    engine = store_engine(settings)
    try:
        metrics = ServiceMetrics()
        quality = ChampionBatchQuality(engine, metrics, ttl=0.5)
        first = asyncio.run(quality.latest("1"))
        assert first is not None
        record_batch_quality(
            engine, dataclasses.replace(first, batch_number=first.batch_number + 10, drift_score=None)
        )
        assert asyncio.run(quality.latest("1")) == first  # cached
        time.sleep(0.6)
        newer = asyncio.run(quality.latest("1"))
        assert newer is not None and newer.batch_number == first.batch_number + 10
        # Without a drift score (a version without a reference profile) there is no drift series.
        assert metrics.batch_drift.collect()[0].samples == []
        assert metrics.batch_accuracy.collect()[0].samples[0].value == newer.accuracy
    finally:
        engine.dispose()
