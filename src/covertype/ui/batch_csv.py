"""The Predict page's CSV round trip: read an uploaded file of records, write the answers beside them."""

from __future__ import annotations

import io
from typing import Any

import pandas as pd

from covertype.schema import CATEGORICAL_COLUMNS, FEATURE_COLUMNS, NUMERIC_COLUMNS, TARGET_COLUMN


class BadUpload(ValueError):
    """The uploaded file is not a CSV of the canonical columns; the message says what is wrong."""


def read_records(data: bytes) -> pd.DataFrame:
    """The upload as a frame of the 12 feature columns (plus ``Cover_Type`` when the file has it).

    The file needs a header with the 12 canonical feature names (13 with ``Cover_Type``), in any order;
    values are checked for type here and for range by the inference API.
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
    for column in [*NUMERIC_COLUMNS, *([TARGET_COLUMN] if TARGET_COLUMN in keep else [])]:
        numbers = pd.to_numeric(frame[column], errors="coerce")
        bad = numbers.isna() | (numbers % 1 != 0)
        if bad.any():
            row = int(bad.to_numpy().argmax())
            raise BadUpload(f"row {row + 1}: {column} {frame[column].iloc[row]!r} is not an integer")
        frame[column] = numbers.astype("int64")
    return frame


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
