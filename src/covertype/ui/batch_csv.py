"""The Predict page's CSV round trip: read an uploaded file of records, write the answers beside them."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pandas as pd

from covertype.schema import (
    CATEGORICAL_COLUMNS,
    COVER_TYPES,
    FEATURE_COLUMNS,
    NUMERIC_COLUMNS,
    NUMERIC_RANGES,
    SOIL_TYPES,
    TARGET_COLUMN,
    WILDERNESS_AREAS,
)

#: Most bad values one refusal lists; the rest are counted ("and N more").
MAX_LISTED_PROBLEMS: Final = 20
_MAX_VALUE_CHARS: Final = 30


class BadUpload(ValueError):
    """The uploaded file is not a CSV of the canonical columns; the message says what is wrong."""


def read_records(data: bytes) -> pd.DataFrame:
    """The upload as a frame of the 12 feature columns (plus ``Cover_Type`` when the file has it).

    The file needs a header with the 12 canonical feature names (13 with ``Cover_Type``), in any order.
    Every value is checked as the inference API checks it (integers within their ranges, known wilderness
    areas and soil codes), and a refusal lists each bad value with its row (1 = the first data row) and
    column, the first :data:`MAX_LISTED_PROBLEMS` of them, one a line.
    """
    try:
        frame = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise BadUpload(f"not a readable CSV file: {exc}") from exc
    frame.columns = [str(column).strip() for column in frame.columns]
    missing = [column for column in FEATURE_COLUMNS if column not in frame.columns]
    if missing:
        raise BadUpload(
            f"missing column(s) {', '.join(missing)}; the header must name the 12 canonical feature columns "
            f"({', '.join(FEATURE_COLUMNS)}), and may add {TARGET_COLUMN}"
        )
    if frame.empty:
        raise BadUpload("the file has a header but no rows")
    keep = list(FEATURE_COLUMNS) + ([TARGET_COLUMN] if TARGET_COLUMN in frame.columns else [])
    frame = frame[keep].apply(lambda column: column.str.strip())
    first, count = _problems(frame)
    if count:
        raise BadUpload(_listed(first, count))
    integers = [column for column in keep if column in _INTEGER_DOMAINS]
    typed: pd.DataFrame = frame.assign(**{c: pd.to_numeric(frame[c]).astype("int64") for c in integers})
    return typed


#: The integer columns with their inclusive range.
_INTEGER_DOMAINS: Final[dict[str, tuple[int, int]]] = {
    **NUMERIC_RANGES,
    TARGET_COLUMN: (min(COVER_TYPES), max(COVER_TYPES)),
}
#: The text columns with their known values and what one of them is called.
_TEXT_DOMAINS: Final[dict[str, tuple[tuple[str, ...], str]]] = {
    "Wilderness_Area": (WILDERNESS_AREAS, "a wilderness area (" + ", ".join(WILDERNESS_AREAS) + ")"),
    "Soil_Type": (SOIL_TYPES, "a soil code (C2702 ... C8776)"),
}


@dataclass(frozen=True, order=True)
class _Problem:
    row: int
    column_order: int
    text: str


def _problems(frame: pd.DataFrame) -> tuple[list[_Problem], int]:
    """The first :data:`MAX_LISTED_PROBLEMS` bad values of ``frame`` (strings as read) in row then column
    order, and how many there are in all."""
    found: list[_Problem] = []
    count = 0
    for order, column in enumerate(frame.columns):
        values = frame[column]
        if column in _INTEGER_DOMAINS:
            low, high = _INTEGER_DOMAINS[column]
            numbers = pd.to_numeric(values, errors="coerce")
            not_integer = numbers.isna() | (numbers % 1 != 0)
            outside = ~not_integer & ((numbers < low) | (numbers > high))
            checks: tuple[tuple[pd.Series[bool], str], ...] = (
                (not_integer, "is not an integer"),
                (outside, f"is outside {low}..{high}"),
            )
        else:
            known, called = _TEXT_DOMAINS[column]
            checks = ((~values.isin(known), f"is not {called}"),)
        for bad, reason in checks:
            rows = np.flatnonzero(bad.to_numpy())
            count += len(rows)
            for row in rows[:MAX_LISTED_PROBLEMS].tolist():
                shown = _shortened(values.iloc[row])
                found.append(_Problem(row + 1, order, f"row {row + 1}: {column} {shown!r} {reason}"))
    return sorted(found)[:MAX_LISTED_PROBLEMS], count


def _shortened(value: str) -> str:
    return value if len(value) <= _MAX_VALUE_CHARS else f"{value[:_MAX_VALUE_CHARS]}…"


def _listed(first: list[_Problem], count: int) -> str:
    """The ``first`` problems one a line, then how many more of ``count`` there are."""
    lines = [problem.text for problem in first]
    if count > len(first):
        lines.append(f"and {count - len(first):,} more")
    return "\n".join(lines)


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows as the inference API's JSON records (plain ints and strings)."""
    features = frame[list(FEATURE_COLUMNS)]
    return [
        {**{c: int(row[c]) for c in NUMERIC_COLUMNS}, **{c: str(row[c]) for c in CATEGORICAL_COLUMNS}}
        for row in features.to_dict(orient="records")
    ]


def with_predictions(frame: pd.DataFrame, predictions: list[dict[str, Any]]) -> pd.DataFrame:
    """The uploaded rows followed by the predicted class, its name, its probability and the model version."""
    result = frame.reset_index(drop=True).copy()
    result["predicted_cover_type"] = [p["cover_type"] for p in predictions]
    result["predicted_cover_type_name"] = [p["cover_type_name"] for p in predictions]
    result["probability"] = [round(max(p["probabilities"].values()), 4) for p in predictions]
    result["model_version"] = [p["model_version"] for p in predictions]
    return result


def to_csv(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()
