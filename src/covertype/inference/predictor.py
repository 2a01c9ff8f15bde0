"""Class probabilities from the native scikit-learn model with as little per-call overhead as possible.

The registered model is a fitted ``Pipeline`` whose first step is a ``ColumnTransformer`` fitted on a
DataFrame. Profiled on this machine, a single-record ``predict_proba`` spends about 0.4 ms building the
DataFrame and 4 ms in the ColumnTransformer's pandas indexing and input checks, against well under a
millisecond in the arithmetic itself. When the ColumnTransformer is made of parts whose transform is plain
arithmetic (one-hot encoding, standard scaling, passthrough, drop), :class:`CompiledPredictor` does that
arithmetic on numpy arrays and hands the result to the remaining steps, which receive exactly what they
received in ``fit``. It is used only after it agrees with the pipeline on probe records covering every
wilderness area and soil code; any other model is served by :class:`FramePredictor`, the pipeline itself on a
DataFrame.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from covertype.schema import (
    FEATURE_COLUMNS,
    NUMERIC_COLUMNS,
    NUMERIC_RANGES,
    SOIL_TYPES,
    WILDERNESS_AREAS,
)

logger = logging.getLogger(__name__)

Row = Sequence[int | str]
"""One record's values in :data:`covertype.schema.FEATURE_COLUMNS` order."""

_NUMERIC_POSITIONS = [FEATURE_COLUMNS.index(c) for c in NUMERIC_COLUMNS]


class Predictor(Protocol):
    classes: np.ndarray

    def predict_proba(self, rows: Sequence[Row]) -> np.ndarray:
        """Probabilities of shape ``(len(rows), len(classes))``."""
        ...


class NotCompilable(ValueError):
    """The pipeline has a part :class:`CompiledPredictor` does not reproduce."""


class FramePredictor:
    """The pipeline itself on a DataFrame typed like the training frame: works for any model."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.classes = np.asarray(model.classes_)

    def predict_proba(self, rows: Sequence[Row]) -> np.ndarray:
        columns = list(zip(*rows, strict=True))
        frame = pd.DataFrame(
            {
                name: np.asarray(values, dtype=np.int64 if name in NUMERIC_COLUMNS else object)
                for name, values in zip(FEATURE_COLUMNS, columns, strict=True)
            },
            copy=False,
        )
        return np.asarray(self.model.predict_proba(frame))


Block = Callable[[list[tuple[int | str, ...]]], np.ndarray]
"""Turns the selected input columns (one tuple of values per column) into an output block."""


class CompiledPredictor:
    """A ``Pipeline(ColumnTransformer, ...)`` with its ColumnTransformer redone on numpy arrays."""

    def __init__(self, pipeline: Pipeline) -> None:
        if not isinstance(pipeline, Pipeline) or len(pipeline.steps) < 2:
            raise NotCompilable("not a Pipeline with a preprocessing step")
        head = pipeline.steps[0][1]
        if not isinstance(head, ColumnTransformer):
            raise NotCompilable(f"first step is {type(head).__name__}, not a ColumnTransformer")
        if head.transformer_weights:
            raise NotCompilable("transformer weights")
        self._rest = pipeline[1:]
        if getattr(self._rest.steps[0][1], "feature_names_in_", None) is not None:
            raise NotCompilable("the step after the ColumnTransformer was fitted on a DataFrame")
        self._blocks = _compile_blocks(head)
        self._sparse = bool(head.sparse_output_)
        self.classes = np.asarray(pipeline.classes_)

    def predict_proba(self, rows: Sequence[Row]) -> np.ndarray:
        columns: list[tuple[int | str, ...]] = list(zip(*rows, strict=True))
        matrix = np.hstack([block(columns) for block in self._blocks])
        features = sparse.csr_matrix(matrix) if self._sparse else matrix
        return np.asarray(self._rest.predict_proba(features))


def _compile_blocks(transformer: ColumnTransformer) -> list[Block]:
    names = list(getattr(transformer, "feature_names_in_", FEATURE_COLUMNS))
    blocks: list[Block] = []
    for name, part, _ in transformer.transformers_:
        indices = list(transformer._transformer_to_input_indices[name])
        if part == "drop" or not indices:
            continue
        try:
            positions = [FEATURE_COLUMNS.index(names[i]) for i in indices]
        except ValueError as exc:
            raise NotCompilable(f"{name}: fitted on columns outside the feature columns") from exc
        blocks.append(_compile_block(name, part, positions))
    if not blocks:
        raise NotCompilable("no output columns")
    return blocks


def _compile_block(name: str, part: Any, positions: list[int]) -> Block:
    if part == "passthrough" or (isinstance(part, FunctionTransformer) and part.func is None):
        return _numeric_block(positions, lambda values: values)
    if isinstance(part, StandardScaler):
        mean = part.mean_ if part.mean_ is not None else 0.0
        scale = part.scale_ if part.scale_ is not None else 1.0
        return _numeric_block(positions, lambda values: (values - mean) / scale)
    if isinstance(part, OneHotEncoder):
        return _one_hot_block(name, part, positions)
    raise NotCompilable(f"{name}: {type(part).__name__} is not reproduced")


def _numeric_block(positions: list[int], arithmetic: Callable[[np.ndarray], np.ndarray]) -> Block:
    if any(FEATURE_COLUMNS[p] not in NUMERIC_COLUMNS for p in positions):
        raise NotCompilable("numeric arithmetic on a categorical column")

    def block(columns: list[tuple[int | str, ...]]) -> np.ndarray:
        values = np.array([columns[p] for p in positions], dtype=np.float64).T
        return arithmetic(values)

    return block


def _one_hot_block(name: str, encoder: OneHotEncoder, positions: list[int]) -> Block:
    if encoder.drop_idx_ is not None or getattr(encoder, "_infrequent_enabled", False):
        raise NotCompilable(f"{name}: OneHotEncoder with drop or infrequent categories")
    if encoder.handle_unknown not in ("ignore", "infrequent_if_exist"):
        raise NotCompilable(f"{name}: OneHotEncoder raises on unknown categories")
    lookups = [{category: index for index, category in enumerate(c.tolist())} for c in encoder.categories_]
    offsets = np.cumsum([0, *(len(c) for c in encoder.categories_)])
    width = int(offsets[-1])

    def block(columns: list[tuple[int | str, ...]]) -> np.ndarray:
        count = len(columns[0])
        out = np.zeros((count, width), dtype=np.float64)
        for position, lookup, offset in zip(positions, lookups, offsets[:-1], strict=True):
            hot = np.fromiter(
                (lookup.get(value, -1) for value in columns[position]), dtype=np.intp, count=count
            )
            known = hot >= 0  # an unknown category encodes as all zeros, as handle_unknown="ignore" does
            out[np.flatnonzero(known), offset + hot[known]] = 1.0
        return out

    return block


def probe_rows(count: int = 80, seed: int = 0) -> list[tuple[int | str, ...]]:
    """Deterministic records over the whole numeric ranges and every wilderness area and soil code."""
    rng = np.random.default_rng(seed)
    numeric = {
        c: rng.integers(low, high, size=count, endpoint=True) for c, (low, high) in NUMERIC_RANGES.items()
    }
    rows = []
    for i in range(count):
        values: dict[str, int | str] = {c: int(numeric[c][i]) for c in NUMERIC_COLUMNS}
        values["Wilderness_Area"] = WILDERNESS_AREAS[i % len(WILDERNESS_AREAS)]
        values["Soil_Type"] = SOIL_TYPES[i % len(SOIL_TYPES)]
        rows.append(tuple(values[c] for c in FEATURE_COLUMNS))
    return rows


def native_predictor(model: Any) -> Predictor:
    """The fastest predictor that gives the same probabilities as ``model.predict_proba`` on a DataFrame.

    The model's own ``n_jobs`` are set to 1: the service makes one model call at a time on small inputs,
    where starting workers costs more than it saves and competes with the event loop for the cores.
    """
    model.set_params(**{key: 1 for key in model.get_params() if key.endswith("n_jobs")})
    reference = FramePredictor(model)
    try:
        compiled = CompiledPredictor(model)
    except NotCompilable as exc:
        logger.info("serving the pipeline on DataFrames: %s", exc)
        return reference
    probes = probe_rows()
    expected = reference.predict_proba(probes)
    got = compiled.predict_proba(probes)
    if got.shape != expected.shape or not np.allclose(got, expected, rtol=1e-7, atol=1e-9):
        logger.warning(
            "compiled preprocessing disagrees with the pipeline; serving the pipeline on DataFrames"
        )
        return reference
    return compiled
