"""The ONNX export of every candidate: one graph from the raw columns, faithful to the pipeline."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from covertype.dataset import load_dataset
from covertype.model.onnx_export import ExportError, check_export, export_and_check, export_pipeline
from covertype.model.runtime import GraphPredictor
from covertype.schema import EXAMPLE_RECORD, FEATURE_COLUMNS, SOIL_TYPES, TARGET_COLUMN
from covertype.training.candidates import CANDIDATES, build_pipeline
from support.extras import extra_venv


@pytest.fixture(scope="module")
def frame(sample_csv: Path) -> pd.DataFrame:
    return load_dataset(sample_csv)


#: Smaller than the defaults (the export does not depend on the counts), so the tests stay quick.
_SMALL: dict[str, dict[str, object]] = {
    "random_forest": {"n_estimators": 8, "n_jobs": 1},
    "extra_trees": {"n_estimators": 8, "n_jobs": 1},
    "hgb": {"max_iter": 50},
    "lightgbm": {"n_estimators": 60},
}


def _fit(name: str, frame: pd.DataFrame, **params: object) -> object:
    """Candidate ``name`` as the training code builds it, fitted on 4,000 sample rows."""
    train = frame.iloc[:4_000]
    pipeline = build_pipeline(name, {**_SMALL.get(name, {}), **params})
    with threadpool_limits(limits=1):  # as the training search does: OpenMP threads crawl on a busy machine
        return pipeline.fit(train[list(FEATURE_COLUMNS)], train[TARGET_COLUMN])


@pytest.mark.parametrize("name", list(CANDIDATES))
def test_every_candidate_exports_to_a_faithful_graph(frame: pd.DataFrame, name: str) -> None:
    pipeline = _fit(name, frame)
    holdout = frame.iloc[10_000:13_000]
    graph, check = export_and_check(pipeline, holdout)
    assert graph is not None and check.faithful, check.reason
    assert check.label_agreement == 1.0 and check.max_probability_diff <= 1e-5
    assert check.size_bytes == len(graph) and check.latency is not None
    assert (
        0 < check.latency.single_p50_ms <= check.latency.single_p99_ms < 50
        and 0 < check.latency.batch_ms < 1_000
    )
    served = GraphPredictor(graph)
    assert served.classes.tolist() == pipeline.classes_.tolist()


def test_exact_angles_and_a_full_turn_predict_as_the_pipeline(frame: pd.DataFrame) -> None:
    """Aspects where ONNX Runtime's sin/cos differ from numpy (cos 90 degrees...); 360 is looked up as 0."""
    pipeline = _fit("hgb", frame)
    records = pd.DataFrame([{**EXAMPLE_RECORD, "Aspect": aspect} for aspect in (0, 90, 180, 270, 360)])
    records = records.astype({"Aspect": "int64"})
    got = GraphPredictor(export_pipeline(pipeline)).predict_proba(
        list(records[list(FEATURE_COLUMNS)].itertuples(index=False, name=None))
    )
    np.testing.assert_allclose(got, pipeline.predict_proba(records[list(FEATURE_COLUMNS)]), atol=1e-6)


@pytest.mark.parametrize("name", ["lightgbm", "extra_trees"])
def test_every_soil_code_predicts_as_the_pipeline(frame: pd.DataFrame, name: str) -> None:
    """The soil zones are looked up in the graph as in the pipeline, for all 40 codes and an unknown one."""
    pipeline = _fit(name, frame)
    records = pd.DataFrame([{**EXAMPLE_RECORD, "Soil_Type": soil} for soil in [*SOIL_TYPES, "C0000"]])
    got = GraphPredictor(export_pipeline(pipeline)).predict_proba(
        list(records[list(FEATURE_COLUMNS)].itertuples(index=False, name=None))
    )
    np.testing.assert_allclose(got, pipeline.predict_proba(records[list(FEATURE_COLUMNS)]), atol=1e-6)


def test_native_categorical_splits_are_refused_not_silently_dropped(frame: pd.DataFrame) -> None:
    pipeline = _fit("hgb", frame, categorical_features=[0, 1])
    with pytest.raises(ExportError, match="categorical"):
        export_pipeline(pipeline)
    graph, check = export_and_check(pipeline, frame.iloc[10_000:11_000])
    assert graph is None and not check.faithful and "categorical" in check.reason


def test_a_graph_that_predicts_something_else_fails_the_check(frame: pd.DataFrame) -> None:
    other = export_pipeline(_fit("logreg", frame))
    check = check_export(_fit("hgb", frame), other, frame.iloc[10_000:11_000])
    assert not check.faithful and "label agreement" in check.reason


@pytest.mark.slow
def test_the_inference_extra_alone_serves_a_graph_without_scikit_learn(
    frame: pd.DataFrame, tmp_path: Path
) -> None:
    """A clean venv from ``uv export --extra inference`` (the image's set) imports the API and predicts."""
    pipeline = _fit("logreg", frame)
    (tmp_path / "model.onnx").write_bytes(export_pipeline(pipeline))
    rows = list(frame[list(FEATURE_COLUMNS)].iloc[12_000:12_050].itertuples(index=False, name=None))
    np.save(
        tmp_path / "expected.npy", pipeline.predict_proba(frame[list(FEATURE_COLUMNS)].iloc[12_000:12_050])
    )
    python = str(extra_venv(tmp_path, "inference") / "python")
    script = f"""
import importlib.util, json, numpy as np
import covertype.inference.app, covertype.serving
from covertype.model.runtime import GraphPredictor
missing = [m for m in ("sklearn", "cloudpickle", "mlflow", "scipy") if importlib.util.find_spec(m) is None]
rows = {[tuple(int(v) if not isinstance(v, str) else v for v in row) for row in rows]!r}
got = GraphPredictor(open({str(tmp_path / "model.onnx")!r}, "rb").read()).predict_proba(rows)
diff = float(np.abs(got - np.load({str(tmp_path / "expected.npy")!r})).max())
print(json.dumps({{"missing": missing, "diff": diff}}))
"""
    # run outside the checkout: its mlflow/ folder (a Dockerfile) would pass for a namespace package
    result = subprocess.run([python, "-c", script], check=True, capture_output=True, text=True, cwd=tmp_path)
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["missing"] == ["sklearn", "cloudpickle", "mlflow", "scipy"]
    assert answer["diff"] < 1e-9
