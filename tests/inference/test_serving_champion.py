"""A champion made by ``covertype train`` and served by the inference API from a real MLflow server.

The server keeps its artifacts in S3, for which moto stands in (as in the training tests). The inference
API reads this registry over MLflow's REST API, as it does in compose, and serves the ONNX graph.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow.sklearn
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from covertype.dataset import load_dataset
from covertype.inference.app import create_app
from covertype.processes import unused_port
from covertype.registry.client import mlflow_client
from covertype.registry.reader import RestRegistryReader
from covertype.registry.tags import (
    ONNX_AGREEMENT_TAG,
    ONNX_ARTIFACT_TAG,
    ONNX_BATCH_MS_TAG,
    ONNX_SINGLE_P50_TAG,
    ONNX_SINGLE_P99_TAG,
    ONNX_SIZE_TAG,
)
from covertype.schema import FEATURE_COLUMNS
from covertype.settings import Settings
from support.training import fill_store, mlflow_server, moto_server

pytestmark = pytest.mark.slow

COVERTYPE = str(Path(sys.executable).with_name("covertype"))


@pytest.fixture(scope="module")
def sample(sample_csv: Path) -> pd.DataFrame:
    return load_dataset(sample_csv)


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory, sample: pd.DataFrame) -> Iterator[Settings]:
    folder = tmp_path_factory.mktemp("serving")
    with (
        moto_server(unused_port(), folder / "moto.log") as s3_url,
        mlflow_server(unused_port(), folder, s3_url) as tracking_url,
    ):
        settings = Settings(data_dir=folder / "data", mlflow_tracking_uri=tracking_url)
        fill_store(settings.database, sample)
        yield settings


def covertype_train(settings: Settings, *args: str, **env: str) -> dict[str, Any]:
    """``covertype train ...`` as typed, in a child process reading ``settings`` from its environment."""
    result = subprocess.run(
        [COVERTYPE, "train", "--time-budget", "1", *args],
        env={"PATH": os.environ["PATH"], **settings.to_env(), **env},
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    # MLflow prints "View run ... at: <url>" lines to stdout before the summary when tracking over HTTP
    return json.loads(result.stdout[result.stdout.index("{\n") :])


@pytest.fixture(scope="module")
def trained(settings: Settings) -> dict[str, Any]:
    return covertype_train(settings, "--candidates", "extra_trees,hgb")


def test_the_served_champion_answers_the_classes_of_its_scikit_learn_flavor(
    trained: dict[str, Any], settings: Settings, sample: pd.DataFrame
) -> None:
    assert trained["promotion"]["promoted"]
    version = trained["registered"]["version"]
    features = sample[list(FEATURE_COLUMNS)]
    # Both URIs: training code in this process (earlier tests) sets a process-wide registry URI.
    mlflow.set_tracking_uri(settings.tracking_uri)
    mlflow.set_registry_uri(settings.tracking_uri)
    expected = mlflow.sklearn.load_model(f"models:/covertype/{version}").predict(features)
    records = [
        {c: (v if isinstance(v, str) else int(v)) for c, v in zip(FEATURE_COLUMNS, row, strict=True)}
        for row in features.itertuples(index=False, name=None)
    ]
    served: list[int] = []
    with TestClient(create_app(settings)) as client:
        deadline = time.monotonic() + 120
        while client.get("/ready").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        for start in range(0, len(records), 5_000):
            response = client.post("/predict/batch", json={"records": records[start : start + 5_000]})
            assert response.status_code == 200, response.text
            served += [p["cover_type"] for p in response.json()["predictions"]]
        assert client.get("/model").json()["version"] == version
        assert isinstance(client.app.state.holder._registry, RestRegistryReader)
    assert len(served) == len(sample) == 15_000
    np.testing.assert_array_equal(np.asarray(served), expected)


def test_the_version_carries_its_graph_and_the_check_figures(
    trained: dict[str, Any], settings: Settings
) -> None:
    tags = mlflow_client(settings).get_model_version("covertype", trained["registered"]["version"]).tags
    assert tags[ONNX_ARTIFACT_TAG] == "onnx/model.onnx"
    assert float(tags[ONNX_AGREEMENT_TAG]) >= 0.999
    assert 0 < int(tags[ONNX_SIZE_TAG]) < 50_000_000
    assert tags["covertype.size_gate"] == tags["covertype.latency_gate"] == "passed"
    assert 0 < float(tags[ONNX_SINGLE_P50_TAG]) <= float(tags[ONNX_SINGLE_P99_TAG])
    assert 0 < float(tags[ONNX_BATCH_MS_TAG]) <= settings.max_batch_ms
    refit = [candidate for candidate in trained["candidates"] if candidate["status"] == "trained"]
    assert [candidate["name"] for candidate in refit] == [
        trained["registered"]["candidate"]
    ]  # only the winner
    assert refit[0]["onnx_faithful"] and refit[0]["onnx_batch_ms"] > 0
    assert {c["status"] for c in trained["candidates"]} - {"trained"} <= {"searched"}


def test_the_size_and_latency_gates_refuse_a_version_over_the_limits(
    trained: dict[str, Any], settings: Settings
) -> None:
    champion = trained["registered"]["version"]
    refused = covertype_train(
        settings,
        "--candidates",
        "logreg",
        "--force",
        COVERTYPE_MAX_MODEL_MB="0.001",
        COVERTYPE_MAX_BATCH_MS="0.0001",
    )
    promotion = refused["promotion"]
    assert not promotion["promoted"]
    assert "exceeds COVERTYPE_MAX_MODEL_MB=0.001" in promotion["reason"]
    assert "over COVERTYPE_MAX_BATCH_MS=0.0001" in promotion["reason"]
    registry = mlflow_client(settings)
    tags = registry.get_model_version("covertype", refused["registered"]["version"]).tags
    assert (
        tags["covertype.size_gate"].startswith("refused: ONNX graph 0.0")
        and "MB exceeds" in tags["covertype.size_gate"]
    )
    batch_ms = float(tags[ONNX_BATCH_MS_TAG])
    assert tags["covertype.latency_gate"] == (
        f"refused: a 1,000-row batch takes {batch_ms:.2f} ms in the ONNX graph, "
        "over COVERTYPE_MAX_BATCH_MS=0.0001"
    )
    assert tags["covertype.promotion_decision"] == "rejected"
    assert registry.get_model_version_by_alias("covertype", "champion").version == champion
