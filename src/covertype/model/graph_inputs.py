"""How records are fed to the exported graph: one ``[N, 1]`` tensor per feature column.

The ten numeric columns are int64, ``Wilderness_Area`` and ``Soil_Type`` strings, named as the columns.
Needs only numpy, so the inference API uses it without scikit-learn.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np

from covertype.schema import FEATURE_COLUMNS, NUMERIC_COLUMNS

Row = Sequence[int | str]
"""One record's values in :data:`covertype.schema.FEATURE_COLUMNS` order."""

Columns = Sequence[Sequence[int | str]]
"""Records column by column: one sequence of values per feature, in :data:`covertype.schema.FEATURE_COLUMNS`
order (what the graph takes, without a row-by-row pass)."""

#: Output names of every exported graph: the predicted class and the ``[N, classes]`` probabilities.
LABEL_OUTPUT: Final = "label"
PROBABILITIES_OUTPUT: Final = "probabilities"
#: Metadata key of the graph listing its classes (comma-separated, in the order of the probabilities).
CLASSES_METADATA: Final = "covertype.classes"


def _tensor(name: str, values: Sequence[object]) -> np.ndarray:
    dtype = np.int64 if name in NUMERIC_COLUMNS else object
    return np.asarray(values, dtype=dtype).reshape(-1, 1)


def rows_to_inputs(rows: Sequence[Row]) -> dict[str, np.ndarray]:
    """The graph's inputs for ``rows`` (each in feature-column order)."""
    return feature_inputs(list(zip(*rows, strict=True)))


def feature_inputs(columns: Columns) -> dict[str, np.ndarray]:
    """The graph's inputs for records held column by column."""
    return {name: _tensor(name, values) for name, values in zip(FEATURE_COLUMNS, columns, strict=True)}


def columns_to_inputs(columns: dict[str, Sequence[object]]) -> dict[str, np.ndarray]:
    """The graph's inputs from column arrays (a DataFrame's columns, say), keyed by feature name."""
    return {name: _tensor(name, list(columns[name])) for name in FEATURE_COLUMNS}
