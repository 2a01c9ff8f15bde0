"""The compiled predictor gives the pipeline's own probabilities, and anything it cannot redo falls back."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler, OneHotEncoder, StandardScaler

from covertype.dataset import load_dataset
from covertype.inference.predictor import CompiledPredictor, FramePredictor, native_predictor, probe_rows
from covertype.schema import CATEGORICAL_COLUMNS, FEATURE_COLUMNS, NUMERIC_COLUMNS, TARGET_COLUMN

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

CATEGORICAL = list(CATEGORICAL_COLUMNS)
NUMERIC = list(NUMERIC_COLUMNS)


@pytest.fixture(scope="module")
def frame(sample_csv: Path) -> pd.DataFrame:
    return load_dataset(sample_csv).iloc[:2_000]


def _fit(frame: pd.DataFrame, preprocess: ColumnTransformer, classifier: object) -> Pipeline:
    pipeline = Pipeline([("preprocess", preprocess), ("classifier", classifier)])
    return pipeline.fit(frame[list(FEATURE_COLUMNS)], frame[TARGET_COLUMN])


def _rows(frame: pd.DataFrame) -> list[tuple[int | str, ...]]:
    return list(frame[list(FEATURE_COLUMNS)].itertuples(index=False, name=None))


PIPELINES = {
    "one-hot + passthrough, dense, trees": lambda: (
        ColumnTransformer(
            [("cat", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL)],
            remainder="passthrough",
            sparse_threshold=0,
        ),
        RandomForestClassifier(n_estimators=5, max_depth=8, random_state=0, n_jobs=2),
    ),
    "one-hot + passthrough, sparse output": lambda: (
        ColumnTransformer(
            [("cat", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL)], remainder="passthrough"
        ),
        ExtraTreesClassifier(n_estimators=5, max_depth=8, random_state=0),
    ),
    "scaled numeric + dense one-hot, linear": lambda: (
        ColumnTransformer(
            [
                ("num", StandardScaler(), NUMERIC),
                ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), CATEGORICAL),
            ]
        ),
        LogisticRegression(max_iter=50),
    ),
}


@pytest.mark.parametrize("kind", PIPELINES)
def test_compiled_probabilities_equal_the_pipeline_on_a_dataframe(frame: pd.DataFrame, kind: str) -> None:
    preprocess, classifier = PIPELINES[kind]()
    pipeline = _fit(frame, preprocess, classifier)
    predictor = native_predictor(pipeline)
    assert isinstance(predictor, CompiledPredictor)
    sample = frame.iloc[:300]
    expected = pipeline.predict_proba(sample[list(FEATURE_COLUMNS)])
    np.testing.assert_allclose(predictor.predict_proba(_rows(sample)), expected, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(predictor.predict_proba(_rows(sample)[:1]), expected[:1], rtol=1e-7, atol=1e-9)
    assert predictor.classes.tolist() == pipeline.classes_.tolist()


def test_a_category_unseen_in_training_is_encoded_as_the_pipeline_does(frame: pd.DataFrame) -> None:
    """Soil codes absent from the training rows still get the pipeline's answer (all-zero one-hot)."""
    seen = frame[frame["Soil_Type"].isin(frame["Soil_Type"].value_counts().index[:5])]
    pipeline = _fit(seen, *PIPELINES["one-hot + passthrough, dense, trees"]())
    predictor = native_predictor(pipeline)
    assert isinstance(predictor, CompiledPredictor)
    probes = probe_rows()
    np.testing.assert_allclose(
        predictor.predict_proba(probes), FramePredictor(pipeline).predict_proba(probes)
    )


def test_a_part_it_cannot_redo_falls_back_to_the_pipeline(frame: pd.DataFrame) -> None:
    preprocess = ColumnTransformer(
        [("num", MinMaxScaler(), NUMERIC), ("cat", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL)]
    )
    pipeline = _fit(frame, preprocess, ExtraTreesClassifier(n_estimators=5, random_state=0))
    predictor = native_predictor(pipeline)
    assert isinstance(predictor, FramePredictor)
    sample = frame.iloc[:50]
    np.testing.assert_allclose(
        predictor.predict_proba(_rows(sample)), pipeline.predict_proba(sample[list(FEATURE_COLUMNS)])
    )


def test_the_model_is_set_to_one_job_per_call(frame: pd.DataFrame) -> None:
    pipeline = _fit(frame, *PIPELINES["one-hot + passthrough, dense, trees"]())
    native_predictor(pipeline)
    assert pipeline.named_steps["classifier"].n_jobs == 1
