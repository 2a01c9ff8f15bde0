"""The reference profile of a model's training data: what drift is measured against.

Per numeric feature, the edges of ``NUMERIC_BINS`` quantile bins and the share of training rows in each;
per categorical feature, the share of every code of the schema; and the share of each class of the label
(every batch arrives labelled, so a change of the classes' mix, prior shift, can be measured too). Computed
when a version is trained and logged as a JSON artifact of its run, so a batch can be compared with it long
after the data changed.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from covertype.schema import COVER_TYPES, NUMERIC_COLUMNS, SOIL_TYPES, TARGET_COLUMN, WILDERNESS_AREAS

#: Quantile bins per numeric feature (the usual choice for the population stability index).
NUMERIC_BINS = 10
#: The categorical features and their codes, in the schema's order.
CATEGORIES: dict[str, tuple[str, ...]] = {"Wilderness_Area": WILDERNESS_AREAS, "Soil_Type": SOIL_TYPES}
#: The label's classes as the profile's keys ("1" to "7": JSON object keys are strings).
LABEL_CODES: tuple[str, ...] = tuple(str(code) for code in sorted(COVER_TYPES))


@dataclass(frozen=True)
class NumericProfile:
    """Inner bin edges (ascending, distinct; values below the first edge fall in bin 0) and bin shares."""

    edges: list[float]
    proportions: list[float]


@dataclass(frozen=True)
class CategoricalProfile:
    """The share of each code (every code of the schema, zero when absent)."""

    frequencies: dict[str, float]

    def shares(self, codes: tuple[str, ...]) -> np.ndarray:
        """The shares of ``codes``, in their order (zero for a code the profile lacks)."""
        return np.asarray([self.frequencies.get(code, 0.0) for code in codes])


@dataclass(frozen=True)
class ReferenceProfile:
    """Numeric and categorical profiles of the rows a model was trained on, and their classes' shares
    (None in a profile logged before labels were profiled)."""

    rows: int
    numeric: dict[str, NumericProfile]
    categorical: dict[str, CategoricalProfile]
    labels: CategoricalProfile | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ReferenceProfile:
        data: dict[str, Any] = json.loads(text)
        return cls(
            rows=int(data["rows"]),
            numeric={name: NumericProfile(**value) for name, value in data["numeric"].items()},
            categorical={name: CategoricalProfile(**value) for name, value in data["categorical"].items()},
            labels=CategoricalProfile(**data["labels"]) if data.get("labels") else None,
        )


def bin_counts(values: np.ndarray, edges: list[float]) -> np.ndarray:
    """How many of ``values`` fall in each of the ``len(edges) + 1`` bins the inner ``edges`` delimit."""
    indices = np.searchsorted(np.asarray(edges, dtype=np.float64), values, side="right")
    return np.bincount(indices, minlength=len(edges) + 1).astype(np.float64)


def bin_shares(values: np.ndarray, edges: list[float]) -> np.ndarray:
    """The share of ``values`` in each bin of :func:`bin_counts`."""
    return bin_counts(values, edges) / max(len(values), 1)


def category_counts(values: pd.Series, codes: tuple[str, ...]) -> np.ndarray:
    """How many of ``values`` hold each of ``codes`` (codes outside the list are not counted)."""
    counts = values.value_counts()
    return np.asarray([counts.get(code, 0) for code in codes], dtype=np.float64)


def category_shares(values: pd.Series, codes: tuple[str, ...]) -> np.ndarray:
    """The share of each of ``codes`` among ``values`` (codes outside the list are not counted)."""
    return category_counts(values, codes) / max(len(values), 1)


def label_counts(labels: pd.Series) -> np.ndarray:
    """How many ``labels`` (the label column) hold each class of :data:`LABEL_CODES`."""
    return category_counts(labels.astype("int64").astype(str), LABEL_CODES)


def label_shares(labels: pd.Series) -> np.ndarray:
    """The share of each class of :data:`LABEL_CODES` among ``labels`` (the label column)."""
    return label_counts(labels) / max(len(labels), 1)


def build_profile(frame: pd.DataFrame) -> ReferenceProfile:
    """The profile of ``frame``'s feature columns (the canonical schema) and of its label, when it has one.

    Quantile edges of an integer feature with few distinct values coincide; duplicates are dropped, so
    such a feature gets fewer, wider bins instead of empty ones.
    """
    if frame.empty:
        raise ValueError("cannot profile an empty frame")
    numeric = {}
    for name in NUMERIC_COLUMNS:
        values = frame[name].to_numpy(dtype=np.float64)
        quantiles = np.quantile(values, np.linspace(0, 1, NUMERIC_BINS + 1)[1:-1])
        edges = [float(edge) for edge in np.unique(quantiles)]
        numeric[name] = NumericProfile(edges=edges, proportions=bin_shares(values, edges).tolist())
    categorical = {
        name: CategoricalProfile(
            frequencies=dict(zip(codes, category_shares(frame[name], codes).tolist(), strict=True))
        )
        for name, codes in CATEGORIES.items()
    }
    labels = (
        CategoricalProfile(dict(zip(LABEL_CODES, label_shares(frame[TARGET_COLUMN]).tolist(), strict=True)))
        if TARGET_COLUMN in frame.columns
        else None
    )
    return ReferenceProfile(rows=len(frame), numeric=numeric, categorical=categorical, labels=labels)
