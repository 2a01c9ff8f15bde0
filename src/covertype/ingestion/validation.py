"""Validating a polled batch row by row: columns, types, domains and ranges of :mod:`covertype.schema`.

Checks run column-wise on the whole batch; only rows that fail pay for building their reasons. Every
rejected row keeps its 1-based place in the batch, its JSON text and all of its problems.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import cast

import numpy as np
import orjson
import pandas as pd

from covertype.schema import (
    COLUMNS,
    COVER_TYPES,
    NUMERIC_COLUMNS,
    NUMERIC_RANGES,
    SOIL_TYPES,
    TARGET_COLUMN,
    WILDERNESS_AREAS,
)
from covertype.store.batches import RejectedRow

_INTEGER_RANGES: dict[str, tuple[int, int]] = {
    **NUMERIC_RANGES,
    TARGET_COLUMN: (min(COVER_TYPES), max(COVER_TYPES)),
}
_DOMAINS: dict[str, tuple[tuple[str, ...], str]] = {
    "Wilderness_Area": (WILDERNESS_AREAS, f"one of {', '.join(WILDERNESS_AREAS)}"),
    "Soil_Type": (SOIL_TYPES, "a USFS ELU code of the schema (C2702 ... C8776)"),
}


@dataclass(frozen=True)
class ValidatedBatch:
    """A batch split into the canonical frame of its valid rows and its rejected rows."""

    rows: pd.DataFrame
    rejected: list[RejectedRow]

    @property
    def received(self) -> int:
        return len(self.rows) + len(self.rejected)


@dataclass(frozen=True)
class _Problem:
    """Cells of one column that fail one check, and how to say so for a given cell value."""

    column: str
    bad: np.ndarray
    describe: Callable[[object], str]


def validate_batch(columns: Sequence[object], data: Sequence[object]) -> ValidatedBatch:
    """Split the ``columns``/``data`` of a ``GET /data`` answer into valid canonical rows and rejections.

    ``columns`` names the values of each row (any order; extra columns are ignored). A row must be a
    list with one value per column; numbers must be integers (``2596`` or ``2596.0``) within
    :data:`~covertype.schema.NUMERIC_RANGES`, the categorical columns codes of the schema,
    ``Cover_Type`` 1..7.
    """
    header = [str(name) for name in columns]
    problem = _header_problem(header)
    if problem:
        return ValidatedBatch(_empty_frame(), [_reject(n, row, [problem]) for n, row in enumerate(data, 1)])

    width = len(header)
    shaped = [isinstance(row, list) and len(row) == width for row in data]
    rejected = [
        _reject(number, row, [_shape_problem(row, width)])
        for number, (row, ok) in enumerate(zip(data, shaped, strict=True), 1)
        if not ok
    ]
    row_numbers = np.flatnonzero(shaped) + 1
    matrix = _object_matrix(
        data if not rejected else [row for row, ok in zip(data, shaped, strict=True) if ok], width
    )
    cells = {name: matrix[:, header.index(name)] for name in COLUMNS}
    numbers, problems = _check(cells)

    bad = np.logical_or.reduce([problem.bad for problem in problems])
    for index in np.flatnonzero(bad):
        reasons = [p.describe(cells[p.column][index]) for p in problems if p.bad[index]]
        rejected.append(_reject(int(row_numbers[index]), matrix[index].tolist(), reasons))
    rejected.sort(key=lambda row: row.row_number)
    return ValidatedBatch(_canonical(numbers, cells, ~bad), rejected)


def _check(cells: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], list[_Problem]]:
    """The integer columns as numbers, and every failed check of every column."""
    numbers: dict[str, np.ndarray] = {}
    problems: list[_Problem] = []
    for name, (low, high) in _INTEGER_RANGES.items():
        numbers[name], integral = _integers(cells[name])
        outside = integral & ((numbers[name] < low) | (numbers[name] > high))
        problems += [
            _Problem(name, ~integral, partial(_not_an_integer, name)),
            _Problem(name, outside, partial(_outside_range, name, low, high)),
        ]
    for name, (domain, wanted) in _DOMAINS.items():
        unknown = ~pd.Series(cells[name], dtype=object).isin(domain).to_numpy()
        problems.append(_Problem(name, unknown, partial(_not_in_domain, name, wanted)))
    return numbers, problems


def _canonical(
    numbers: dict[str, np.ndarray], cells: dict[str, np.ndarray], good: np.ndarray
) -> pd.DataFrame:
    """The good rows with the columns and dtypes of :func:`covertype.dataset.load_dataset`."""
    frame = pd.DataFrame({name: numbers[name][good].astype(np.int32) for name in NUMERIC_COLUMNS})
    for name in _DOMAINS:
        frame[name] = cells[name][good].astype(str)
    frame[TARGET_COLUMN] = numbers[TARGET_COLUMN][good].astype(np.int8)
    return frame[list(COLUMNS)]


def _header_problem(header: list[str]) -> str | None:
    missing = [name for name in COLUMNS if name not in header]
    if missing:
        return f"the batch has no {', '.join(missing)} column"
    twice = sorted({name for name in header if header.count(name) > 1})
    return f"the batch names {', '.join(twice)} more than once" if twice else None


def _empty_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {name: np.array([], dtype=np.int8 if name == TARGET_COLUMN else np.int32) for name in _INTEGER_RANGES}
        | {name: np.array([], dtype=str) for name in _DOMAINS}
    )[list(COLUMNS)]


def _object_matrix(rows: Sequence[object], width: int) -> np.ndarray:
    """Rows as a 2-D object array; values that are themselves lists stay single cells."""
    matrix = np.empty((len(rows), width), dtype=object)
    try:
        matrix[:] = rows
    except ValueError:  # nested sequences that numpy would broadcast: fill cell by cell
        for i, row in enumerate(rows):
            for j, value in enumerate(cast(Sequence[object], row)):
                matrix[i, j] = value
    return matrix


def _integers(cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The cells as float64 numbers and the mask of cells that are integers (JSON ``7`` or ``7.0``)."""
    if set(map(type, cells)) <= {int}:
        try:
            return cells.astype(np.float64), np.ones(len(cells), dtype=bool)
        except OverflowError:  # an integer beyond float range: the cell-by-cell path reports it
            pass
    integral = np.fromiter(map(_is_integer, cells), dtype=bool, count=len(cells))
    numbers = np.zeros(len(cells), dtype=np.float64)
    numbers[integral] = [float(v) for v in cells[integral]]
    return numbers, integral


def _is_integer(value: object) -> bool:
    if type(value) is int:
        return abs(value) < 2**53
    return type(value) is float and value.is_integer()


def _outside_range(name: str, low: int, high: int, value: object) -> str:
    return f"{name} {value} is outside {low}..{high}"


def _not_in_domain(name: str, wanted: str, value: object) -> str:
    return f"{name} {value!r} is not {wanted}"


def _not_an_integer(name: str, value: object) -> str:
    missing = value is None or (isinstance(value, float) and np.isnan(value))
    return f"{name} is missing" if missing else f"{name} {value!r} is not an integer"


def _shape_problem(row: object, width: int) -> str:
    if not isinstance(row, list):
        return f"row is a {type(row).__name__}, not a list of {width} values"
    return f"row has {len(row)} values, the columns are {width}: a value is missing or extra"


def _reject(number: int, row: object, reasons: list[str]) -> RejectedRow:
    payload = orjson.dumps(row, option=orjson.OPT_SERIALIZE_NUMPY, default=repr).decode()
    return RejectedRow(row_number=number, payload=payload, reason="; ".join(reasons))
