"""The inference API against a real MLflow store holding a champion the training pipeline made."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import mlflow
import mlflow.sklearn
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from covertype.dataset import load_dataset
from covertype.inference.app import create_app
from covertype.inference.metrics import ServiceMetrics
from covertype.inference.prediction_log import AnsweredRecords, PredictionLog
from covertype.inference.routes import predictions as prediction_routes
from covertype.inference.schemas import CoverFeatures
from covertype.processes import unused_port
from covertype.registry.client import mlflow_client
from covertype.schema import COVER_TYPES, FEATURE_COLUMNS, NUMERIC_RANGES, SOIL_TYPES, WILDERNESS_AREAS
from covertype.settings import Settings
from covertype.store.engine import store_engine
from covertype.store.tables import metadata, predictions
from support.docs import assert_docs_work_offline
from support.hostile_values import SMALL_ANSWER, TEN_MB, chunked, padded_json
from support.inference import GOOD, registry_settings, train_version


@pytest.fixture(scope="module")
def frame(sample_csv: Path) -> pd.DataFrame:
    return load_dataset(sample_csv)


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory, frame: pd.DataFrame) -> Settings:
    """A registry whose champion is version 1, the training pipeline's random forest on 3,000 sample rows."""
    settings = registry_settings(tmp_path_factory.mktemp("registry"))
    train_version(settings, frame.iloc[:3_000], candidates="random_forest")
    return settings


def wait_ready(client: TestClient, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if client.get("/ready").status_code == 200:
            return
        time.sleep(0.1)
    pytest.fail(f"not ready within {timeout} s: {client.get('/ready').json()}")


@pytest.fixture(scope="module")
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        wait_ready(client)
        yield client


@pytest.fixture(scope="module")
def direct_model(settings: Settings) -> Any:
    """The champion's scikit-learn flavor loaded the plain MLflow way, to compare the ONNX answers with."""
    mlflow.set_tracking_uri(settings.tracking_uri)
    mlflow.set_registry_uri(settings.tracking_uri)
    return mlflow.sklearn.load_model("models:/covertype@champion")


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-ready records (plain ints and strings)."""
    return [
        {
            column: (value if isinstance(value, str) else int(value))
            for column, value in zip(FEATURE_COLUMNS, row, strict=True)
        }
        for row in frame[list(FEATURE_COLUMNS)].itertuples(index=False, name=None)
    ]


def assert_answers_match(answers: list[dict[str, Any]], model: Any, sample: pd.DataFrame) -> None:
    expected = model.predict_proba(sample[list(FEATURE_COLUMNS)])
    names = [COVER_TYPES[int(c)] for c in model.classes_]
    got = np.array([[answer["probabilities"][name] for name in names] for answer in answers])
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)  # float32 trees in ONNX
    chosen = model.classes_[expected.argmax(axis=1)].tolist()
    assert [answer["cover_type"] for answer in answers] == chosen
    assert [answer["cover_type_name"] for answer in answers] == [COVER_TYPES[c] for c in chosen]
    assert {answer["model_version"] for answer in answers} == {"1"}


def test_single_predictions_agree_with_the_model_loaded_directly(
    client: TestClient, direct_model: Any, frame: pd.DataFrame
) -> None:
    sample = frame.iloc[5_000:5_040]
    answers = []
    for record in records(sample):
        response = client.post("/predict", json=record)
        assert response.status_code == 200, response.text
        answers.append(response.json())
    assert set(answers[0]) == {"cover_type", "cover_type_name", "probabilities", "model_version"}
    assert_answers_match(answers, direct_model, sample)


def test_batch_predictions_agree_with_the_model_loaded_directly(
    client: TestClient, direct_model: Any, frame: pd.DataFrame
) -> None:
    sample = frame.iloc[6_000:7_000]
    response = client.post("/predict/batch", json={"records": records(sample)})
    assert response.status_code == 200, response.text
    assert_answers_match(response.json()["predictions"], direct_model, sample)


def test_valid_bodies_get_the_same_answer_from_the_fast_path_as_from_fastapis(
    client: TestClient, frame: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A body sent as ``application/json`` is decoded by the routes' fast path; with a charset it goes
    through FastAPI's parsing and pydantic: both answers are the same bytes."""
    decoded: list[str] = []

    def spy(name: str) -> Callable[[bytes], object]:
        decode = getattr(prediction_routes, name)

        def spied(body: bytes) -> object:
            decoded.append(name)
            return decode(body)

        return spied

    for name in ("decode_record", "decode_batch"):
        monkeypatch.setattr(prediction_routes, name, spy(name))
    sample = records(frame.iloc[7_000:7_300])
    bodies = [("/predict", json.dumps(record)) for record in sample[:20]]
    bodies.append(("/predict/batch", json.dumps({"records": sample})))
    for path, body in bodies:
        fast = client.post(path, content=body, headers={"content-type": "application/json"})
        declared = client.post(
            path, content=body, headers={"content-type": "application/json; charset=utf-8"}
        )
        assert fast.status_code == declared.status_code == 200
        assert fast.content == declared.content
    assert decoded == ["decode_record"] * 20 + ["decode_batch"]


def test_docs_work_offline(client: TestClient) -> None:
    assert_docs_work_offline(client)


def test_model_tells_what_is_served_with_its_metrics(client: TestClient) -> None:
    body = client.get("/model").json()
    assert (body["name"], body["version"], body["alias"]) == ("covertype", "1", "champion")
    assert body["run_id"]
    assert set(body["metrics"]) >= {"holdout_accuracy", "holdout_macro_f1"}


def test_health_and_ready(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok", "detail": None}
    assert client.get("/ready").json() == {"status": "ready", "detail": "serving covertype version 1"}


def _without(field: str) -> dict[str, Any]:
    return {key: value for key, value in GOOD.items() if key != field}


BAD_RECORDS = {
    "missing field": (_without("Slope"), "Slope", "missing"),
    "wrong type": ({**GOOD, "Elevation": "high"}, "Elevation", "int_type"),
    "float for an integer": ({**GOOD, "Aspect": 51.5}, "Aspect", "int_type"),
    "unknown soil code": ({**GOOD, "Soil_Type": "C9999"}, "Soil_Type", "literal_error"),
    "unknown wilderness": ({**GOOD, "Wilderness_Area": "Yosemite"}, "Wilderness_Area", "literal_error"),
    "above range": ({**GOOD, "Hillshade_Noon": 300}, "Hillshade_Noon", "less_than_equal"),
    "below range": ({**GOOD, "Elevation": -5}, "Elevation", "greater_than_equal"),
    "extra field": ({**GOOD, "Cover_Type": 2}, "Cover_Type", "extra_forbidden"),
}


@pytest.mark.parametrize("case", BAD_RECORDS)
def test_a_bad_record_is_a_422_naming_the_field(client: TestClient, case: str) -> None:
    record, field, error_type = BAD_RECORDS[case]
    response = client.post("/predict", json=record)
    assert response.status_code == 422
    errors = response.json()["detail"]
    assert [(e["loc"], e["type"]) for e in errors] == [(["body", field], error_type)]

    batch = client.post("/predict/batch", json={"records": [GOOD, record]})
    assert batch.status_code == 422
    assert [(e["loc"], e["type"]) for e in batch.json()["detail"]] == [
        (["body", "records", 1, field], error_type)
    ]


def test_invalid_json_is_a_422(client: TestClient) -> None:
    for path in ("/predict", "/predict/batch"):
        response = client.post(
            path, content=b'{"Elevation": 2596,', headers={"content-type": "application/json"}
        )
        assert response.status_code == 422
        assert response.json()["detail"][0]["type"] == "json_invalid"


def test_an_empty_batch_is_a_422_naming_records(client: TestClient) -> None:
    response = client.post("/predict/batch", json={"records": []})
    assert response.status_code == 422
    assert [(e["loc"], e["type"]) for e in response.json()["detail"]] == [(["body", "records"], "too_short")]


def test_an_oversized_batch_is_a_413_saying_the_limit(client: TestClient, settings: Settings) -> None:
    response = client.post("/predict/batch", json={"records": [GOOD] * (settings.max_batch_records + 1)})
    assert response.status_code == 413
    detail = response.json()["detail"]
    assert detail.startswith("records:") and str(settings.max_batch_records) in detail


@pytest.mark.parametrize("path", ["/predict", "/predict/batch", "/model/reload"])
@pytest.mark.parametrize("send", ["with Content-Length", "chunked"])
def test_a_10_mb_body_is_a_413_under_10_kb(client: TestClient, path: str, send: str) -> None:
    body = padded_json(TEN_MB)
    content = body if send == "with Content-Length" else chunked(body)
    response = client.post(path, content=content, headers={"content-type": "application/json"})
    assert response.status_code == 413, response.text[:300]
    assert len(response.content) < SMALL_ANSWER
    assert "COVERTYPE_MAX_BODY_BYTES" in response.json()["detail"]
    assert 'endpoint="/predict",method="POST",status="413"' in client.get("/metrics").text


def test_the_schema_documents_the_body_limit_on_the_prediction_routes(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/predict", "/predict/batch"):
        assert "COVERTYPE_MAX_BODY_BYTES" in paths[path]["post"]["responses"]["413"]["description"]


def test_a_batch_at_the_record_limit_fits_the_default_body_limit(
    client: TestClient, settings: Settings
) -> None:
    """The default ``COVERTYPE_MAX_BODY_BYTES`` holds ``COVERTYPE_MAX_BATCH_RECORDS``' default of the widest
    records, indented as a person would write them."""
    defaults = Settings()
    widest = {
        **{column: max(bounds, key=lambda b: len(str(b))) for column, bounds in NUMERIC_RANGES.items()},
        "Wilderness_Area": max(WILDERNESS_AREAS, key=len),
        "Soil_Type": max(SOIL_TYPES, key=len),
    }
    body = json.dumps({"records": [widest] * defaults.max_batch_records}, indent=4).encode()
    assert len(body) < defaults.max_body_bytes
    records = {"records": [widest] * settings.max_batch_records}
    answer = client.post(
        "/predict/batch", content=json.dumps(records, indent=4), headers={"content-type": "application/json"}
    )
    assert answer.status_code == 200, answer.text[:300]


HUGE = "x" * 100_000
PADDED_RECORDS = {
    "padded extra field": ({**GOOD, "Comment": HUGE}, "Comment"),
    "padded bad value": ({**GOOD, "Soil_Type": HUGE}, "Soil_Type"),
}


@pytest.mark.parametrize("case", PADDED_RECORDS)
def test_a_100_kb_body_with_one_bad_field_is_a_422_under_10_kb(client: TestClient, case: str) -> None:
    record, field = PADDED_RECORDS[case]
    for path, body, loc in (
        ("/predict", record, ["body", field]),
        ("/predict/batch", {"records": [GOOD] * 200 + [record]}, ["body", "records", 200, field]),
    ):
        response = client.post(path, json=body)
        assert response.status_code == 422
        assert len(response.content) < SMALL_ANSWER
        [error] = response.json()["detail"]
        assert error["loc"] == loc
        assert error["input"].startswith("x" * 100) and "100,000 characters" in error["input"]


def test_a_batch_of_many_bad_records_lists_the_first_errors_and_counts_the_rest(client: TestClient) -> None:
    response = client.post("/predict/batch", json={"records": [{**GOOD, "Elevation": -1}] * 1_000})
    assert response.status_code == 422
    assert len(response.content) < SMALL_ANSWER
    body = response.json()
    assert [error["loc"] for error in body["detail"]] == [
        ["body", "records", index, "Elevation"] for index in range(20)
    ]
    assert body["omitted_errors"] == 980


def test_predictions_land_in_the_store(client: TestClient, settings: Settings) -> None:
    engine = store_engine(settings)
    record = {**GOOD, "Soil_Type": "C2702", "Elevation": 3111}
    # This test's rows only: another test's batch (the widest records, also C2702) may still be landing.
    mine = (predictions.c.Soil_Type == record["Soil_Type"]) & (predictions.c.Elevation == record["Elevation"])
    count = select(func.count()).select_from(predictions).where(mine)
    with engine.connect() as connection:
        before = connection.execute(count).scalar_one()
    single = client.post("/predict", json=record).json()
    client.post("/predict/batch", json={"records": [record] * 4})
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with engine.connect() as connection:
            if connection.execute(count).scalar_one() == before + 5:
                break
        time.sleep(0.05)
    with engine.connect() as connection:
        rows = connection.execute(select(predictions).where(mine).order_by(predictions.c.id)).mappings().all()
    assert len(rows) == before + 5
    row = rows[-1]
    assert {column: row[column] for column in FEATURE_COLUMNS} == record
    assert (row["cover_type"], row["model_name"], row["model_version"]) == (
        single["cover_type"],
        "covertype",
        "1",
    )
    assert row["probability"] == pytest.approx(max(single["probabilities"].values()))
    assert row["predicted_at"] is not None


def test_metrics_expose_requests_latency_classes_and_version(client: TestClient) -> None:
    client.post("/predict", json=GOOD)
    text = client.get("/metrics").text
    assert 'covertype_http_requests_total{endpoint="/predict",method="POST",status="200"}' in text
    assert (
        'covertype_http_request_duration_seconds_bucket{endpoint="/predict",le="0.01",method="POST"}' in text
    )
    assert "covertype_predictions_total{cover_type=" in text
    assert 'covertype_model_info{alias="champion",name="covertype",version="1"} 1.0' in text
    assert "covertype_prediction_log_dropped_total 0.0" in text


def test_metrics_expose_the_served_versions_holdout_accuracy(client: TestClient) -> None:
    """What the accuracy-drop alert compares the champion's batch accuracy with."""
    holdout = client.get("/model").json()["metrics"]["holdout_accuracy"]
    text = client.get("/metrics").text
    assert f'covertype_model_holdout_accuracy{{version="1"}} {float(holdout)!r}' in text


def test_reload_without_a_token_configured_checks_the_alias(client: TestClient) -> None:
    response = client.post("/model/reload")
    assert response.status_code == 200
    assert response.json()["changed"] is False
    assert response.json()["model"]["version"] == "1"


def test_reload_requires_the_token_when_one_is_set(settings: Settings) -> None:
    guarded = settings.model_copy(update={"api_token": "s3cret"})
    with TestClient(create_app(guarded)) as client:
        assert client.post("/model/reload").status_code == 401
        wrong = client.post("/model/reload", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        assert "Bearer" in wrong.json()["detail"]
        right = client.post("/model/reload", headers={"Authorization": "Bearer s3cret"})
        assert right.status_code == 200, right.text
        assert right.json()["model"]["version"] == "1"


def test_without_a_model_predict_and_ready_are_503_and_health_is_200(tmp_path: Path) -> None:
    settings = registry_settings(tmp_path)
    with TestClient(create_app(settings)) as client:
        assert client.get("/health").status_code == 200
        ready = client.get("/ready")
        assert ready.status_code == 503
        assert "models:/covertype@champion" in ready.json()["detail"]
        for path, body in (("/predict", GOOD), ("/predict/batch", {"records": [GOOD]})):
            response = client.post(path, json=body)
            assert response.status_code == 503
            assert "no model loaded from models:/covertype@champion" in response.json()["detail"]
        assert client.get("/model").status_code == 503
        assert client.post("/model/reload").status_code == 503


def test_a_registry_nobody_answers_at_is_named_by_ready_and_in_the_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    port = unused_port()  # nothing listens there
    settings = registry_settings(tmp_path, mlflow_tracking_uri=f"http://reader:s3cret@127.0.0.1:{port}")
    shown = f"http://reader:***@127.0.0.1:{port}"
    caplog.set_level(logging.INFO, logger="covertype.inference.model_holder")
    with TestClient(create_app(settings)) as client:
        deadline = time.monotonic() + 10
        while (ready := client.get("/ready").json())["status"] == "loading" and time.monotonic() < deadline:
            time.sleep(0.05)
        predict = client.post("/predict", json=GOOD)
    assert ready["status"] == "unavailable"
    assert f"cannot reach the registry at {shown}: ConnectError" in ready["detail"]
    assert predict.status_code == 503 and f"cannot reach the registry at {shown}" in predict.json()["detail"]
    assert f"the registry at {shown}" in caplog.text
    assert "s3cret" not in caplog.text + ready["detail"]


def test_a_version_without_an_onnx_graph_is_a_503_naming_it_and_what_to_do(
    tmp_path: Path, frame: pd.DataFrame
) -> None:
    settings = registry_settings(tmp_path)
    train_version(settings, frame.iloc[:3_000], candidates="logreg")
    registry = mlflow_client(settings)
    # Stand-in for a version registered before the ONNX export: the same logged model (scikit-learn
    # flavor) registered again without the ONNX tags, as training registered every version then.
    source = registry.get_model_version("covertype", "1").source
    old = registry.create_model_version(
        "covertype", source, run_id=registry.get_model_version("covertype", "1").run_id
    )
    with TestClient(create_app(settings)) as client:
        wait_ready(client)
        registry.set_registered_model_alias("covertype", "champion", old.version)
        assert client.post("/model/reload").status_code == 503
        for path, body in (("/predict", GOOD), ("/predict/batch", {"records": [GOOD]})):
            response = client.post(path, json=body)
            assert response.status_code == 503, response.text
            detail = response.json()["detail"]
            assert f"models:/covertype/{old.version}" in detail and "without an ONNX graph" in detail
            assert "covertype train" in detail and "covertype promote --version" in detail
        assert client.get("/ready").status_code == 503
        registry.set_registered_model_alias("covertype", "champion", "1")
        assert client.post("/model/reload").json()["model"]["version"] == "1"


def test_a_version_that_never_saw_a_class_answers_all_seven_with_0_for_it(
    tmp_path: Path, frame: pd.DataFrame
) -> None:
    settings = registry_settings(tmp_path)
    train_version(settings, frame[frame["Cover_Type"] != 4].iloc[:2_000], candidates="logreg")
    with TestClient(create_app(settings)) as client:
        wait_ready(client)
        single = client.post("/predict", json=GOOD).json()
        batch = client.post("/predict/batch", json={"records": records(frame.iloc[:50])}).json()
        schema = client.get("/openapi.json").json()["components"]["schemas"]
    for answer in [single, *batch["predictions"]]:
        assert list(answer["probabilities"]) == list(COVER_TYPES.values())
        assert answer["probabilities"]["Cottonwood/Willow"] == 0.0
        assert sum(answer["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
        assert answer["cover_type"] != 4
    documented = schema["ClassProbabilities"]
    assert list(documented["properties"]) == documented["required"] == list(COVER_TYPES.values())
    assert "0.0 for a class" in documented["description"]


def test_records_name_the_feature_columns_in_order() -> None:
    """``as_row`` relies on the declaration order matching ``FEATURE_COLUMNS``."""
    assert tuple(CoverFeatures.model_fields) == FEATURE_COLUMNS
    assert CoverFeatures(**GOOD).as_row() == tuple(GOOD[column] for column in FEATURE_COLUMNS)


@pytest.mark.mariadb
def test_the_prediction_log_writes_to_mariadb(mariadb_url: str) -> None:
    engine = store_engine(Settings(database_url=mariadb_url))
    metadata.create_all(engine, tables=[predictions])
    metrics = ServiceMetrics()
    log = PredictionLog(engine, metrics)
    log.start()
    at = datetime(2026, 11, 25, 1, 2, 3, 456000)
    row = tuple(GOOD[column] for column in FEATURE_COLUMNS)
    log.record(AnsweredRecords(list(zip(row, row, strict=True)), [2, 5], [0.75, 0.5], "covertype", "7", at))
    log.stop()
    with engine.connect() as connection:
        stored = connection.execute(select(predictions).order_by(predictions.c.id)).mappings().all()
    engine.dispose()
    assert [(r["cover_type"], r["probability"], r["model_version"]) for r in stored] == [
        (2, 0.75, "7"),
        (5, 0.5, "7"),
    ]
    assert {column: stored[0][column] for column in FEATURE_COLUMNS} == GOOD
    assert stored[0]["predicted_at"].replace(microsecond=0) == at.replace(microsecond=0)
    assert metrics.log_written._value.get() == 2
