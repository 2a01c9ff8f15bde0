"""Loading the cover-type dataset into the canonical 13-column frame.

Accepted sources: the UCI raw file (55 columns, one-hot, with or without header, ``.csv`` or
``.data``, optionally gzipped), a course-format CSV (the 13 canonical columns), or scikit-learn's
``fetch_covtype`` when nothing is configured. Every problem is a :class:`DatasetError` naming the file,
the row (1-based, as a person counts data rows) and what is wrong.
"""

from __future__ import annotations

import gzip
import itertools
from pathlib import Path

import numpy as np
import pandas as pd

from covertype.schema import (
    COLUMNS,
    COVER_TYPES,
    NUMERIC_COLUMNS,
    NUMERIC_RANGES,
    SOIL_TYPES,
    TARGET_COLUMN,
    UCI_COLUMNS,
    WILDERNESS_AREAS,
)


class DatasetError(ValueError):
    """A dataset source that is missing or malformed; the message names the file and the problem."""


def load_dataset(source: str | Path | None = None) -> pd.DataFrame:
    """Load ``source`` (or scikit-learn's copy when ``None``) as the canonical frame.

    The frame has the 13 columns of :data:`covertype.schema.COLUMNS` in order: ten ``int32`` numeric
    columns, ``Wilderness_Area`` and ``Soil_Type`` as strings, ``Cover_Type`` as ``int8``.
    """
    if source is None or str(source) == "":
        return _from_uci_matrix(*_fetch_sklearn(), origin="scikit-learn fetch_covtype")
    if str(source).startswith(("http://", "https://")):
        return _load_file(source, origin=str(source))
    path = Path(source).expanduser()
    if not path.is_file():
        raise DatasetError(f"{path}: dataset file not found")
    return _load_file(path, origin=str(path))


def distinct_copies(frame: pd.DataFrame, rows: int, *, road_offset: int = 0) -> pd.DataFrame:
    """``frame`` repeated to ``rows`` rows, copy ``k`` ``road_offset + k`` metres further from a road.

    A full-size stand-in made from a sample: the copies of one row are distinct rows (distinct
    ``row_hash``), so the store keeps them all, but they are near-copies: they measure time and memory at
    size, never accuracy.
    """
    copies = []
    for k in range(-(-rows // len(frame))):
        copy = frame.copy()
        copy["Horizontal_Distance_To_Roadways"] += road_offset + k
        copies.append(copy)
    return pd.concat(copies, ignore_index=True).head(rows)


def write_distinct_copies(sample: Path, target: Path, rows: int, *, road_offset: int = 0) -> Path:
    """Write ``rows`` distinct rows of the raw file ``sample`` to ``target``, in ``sample``'s format.

    The file counterpart of :func:`distinct_copies`, line by line (the sample's header and format kept, as
    the data API reads the real dataset): copy ``k`` of every line ``road_offset + k`` metres further from a
    road, any line already written left out (so the file holds exactly ``rows`` distinct rows).
    """
    header, *lines = sample.read_text().splitlines()
    if rows < 1 or not lines:
        raise DatasetError(f"{sample}: cannot make {rows} rows from {len(lines)} data rows")
    road = header.split(",").index("Horizontal_Distance_To_Roadways")
    seen: set[str] = set()
    with target.open("w") as out:
        out.write(header + "\n")
        for k in itertools.count():
            for line in lines:
                fields = line.split(",")
                fields[road] = str(int(fields[road]) + road_offset + k)
                moved = ",".join(fields)
                if moved in seen:
                    continue
                seen.add(moved)
                out.write(moved + "\n")
                if len(seen) == rows:
                    return target
    raise AssertionError("unreachable")  # pragma: no cover - itertools.count() never ends


def _fetch_sklearn() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import fetch_covtype

    try:
        bunch = fetch_covtype()
    except OSError as exc:  # no network and no cache
        raise DatasetError(
            f"scikit-learn fetch_covtype: download failed ({exc}); set COVERTYPE_DATA_SOURCE to a local file"
        ) from exc
    return bunch.data, bunch.target


def _load_file(source: str | Path, *, origin: str) -> pd.DataFrame:
    first_line = _first_line(source, origin)
    fields = first_line.split(",")
    has_header = not _is_number(fields[0])
    try:
        raw = pd.read_csv(
            source,
            header=0 if has_header else None,
            compression="infer",
            engine="c",
            low_memory=False,
        )
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{origin}: cannot be parsed as CSV ({exc})") from exc
    except pd.errors.EmptyDataError as exc:
        raise DatasetError(f"{origin}: the file is empty") from exc
    if raw.empty:
        raise DatasetError(f"{origin}: the file has no data rows")
    if raw.shape[1] == len(UCI_COLUMNS):
        matrix = _integer_matrix(raw, origin, has_header)
        return _from_uci_matrix(matrix[:, :-1], matrix[:, -1], origin=origin)
    if raw.shape[1] == len(COLUMNS):
        return _from_course_frame(raw, origin=origin, has_header=has_header)
    raise DatasetError(
        f"{origin}: expected {len(UCI_COLUMNS)} columns (UCI raw) or {len(COLUMNS)} columns (course format), "
        f"found {raw.shape[1]}"
    )


def _first_line(source: str | Path, origin: str) -> str:
    if isinstance(source, str) and source.startswith(("http://", "https://")):
        # header=0 turns the first line into column names, so they are that line's fields.
        return ",".join(map(str, pd.read_csv(source, nrows=0, header=0, compression="infer").columns))
    opener = gzip.open if str(source).endswith(".gz") else open
    try:
        with opener(source, "rt", encoding="utf-8") as handle:
            line = handle.readline().strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{origin}: cannot be read ({exc})") from exc
    if not line:
        raise DatasetError(f"{origin}: the file is empty")
    return line


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _integer_matrix(raw: pd.DataFrame, origin: str, has_header: bool) -> np.ndarray:
    """All 55 columns as integers, or an error naming the first cell that is not one."""
    for column in raw.columns:
        name = str(column) if has_header else f"column {int(column) + 1}"
        raw[column] = _integer_column(raw[column], origin, name)
    return raw.to_numpy(dtype=np.int64)


def _integer_column(values: pd.Series, origin: str, name: str) -> pd.Series:
    """``values`` as int64, or an error naming the first cell that is not an integer."""
    if pd.api.types.is_integer_dtype(values):
        return values.astype(np.int64)
    numbers = pd.to_numeric(values, errors="coerce")
    bad = ~np.isfinite(numbers.to_numpy(dtype=np.float64, na_value=np.nan)) | (numbers != np.floor(numbers))
    if bad.any():
        index = int(np.argmax(bad))
        cell = values.iloc[index]
        if pd.isna(cell):
            raise DatasetError(
                f"{origin}: row {index + 1}: {name} is empty (a missing value or too few fields)"
            )
        raise DatasetError(f"{origin}: row {index + 1}: {name} {str(cell)!r} is not an integer")
    return numbers.astype(np.int64)


def _from_uci_matrix(features: np.ndarray, target: np.ndarray, *, origin: str) -> pd.DataFrame:
    """Canonical frame from the 54 UCI feature columns (one-hot wilderness and soil) and the target."""
    features = np.asarray(features)
    wilderness = features[:, 10:14]
    soil = features[:, 14:54]
    _check_one_hot(wilderness, "Wilderness_Area", origin)
    _check_one_hot(soil, "Soil_Type", origin)
    frame = pd.DataFrame(features[:, :10].astype(np.int32), columns=list(NUMERIC_COLUMNS))
    frame["Wilderness_Area"] = np.asarray(WILDERNESS_AREAS, dtype=object)[wilderness.argmax(axis=1)]
    frame["Soil_Type"] = np.asarray(SOIL_TYPES, dtype=object)[soil.argmax(axis=1)]
    frame[TARGET_COLUMN] = np.asarray(target).astype(np.int8)
    _check_ranges(frame, origin)
    return frame


def _check_one_hot(block: np.ndarray, name: str, origin: str) -> None:
    valid_values = (block == 0) | (block == 1)
    ones = block.sum(axis=1)
    bad = ~valid_values.all(axis=1) | (ones != 1)
    if bad.any():
        row = int(np.argmax(bad))
        raise DatasetError(
            f"{origin}: row {row + 1}: the {block.shape[1]} one-hot {name} columns must hold exactly one 1, "
            f"found {block[row].tolist()}"
        )


def _from_course_frame(raw: pd.DataFrame, *, origin: str, has_header: bool) -> pd.DataFrame:
    if has_header:
        missing = [c for c in COLUMNS if c not in raw.columns]
        if missing:
            raise DatasetError(f"{origin}: course-format header lacks {', '.join(missing)}")
        raw = raw[list(COLUMNS)]
    else:
        raw.columns = list(COLUMNS)
    frame = pd.DataFrame(index=raw.index)
    for column in (*NUMERIC_COLUMNS, TARGET_COLUMN):
        numbers = _integer_column(raw[column], origin, column)
        frame[column] = numbers.astype(np.int8 if column == TARGET_COLUMN else np.int32)
    for column, domain in (("Wilderness_Area", WILDERNESS_AREAS), ("Soil_Type", SOIL_TYPES)):
        values = raw[column].astype(str).str.strip()
        bad = ~values.isin(domain)
        if bad.any():
            index = int(np.argmax(bad.to_numpy()))
            raise DatasetError(
                f"{origin}: row {index + 1}: {column} {values.iloc[index]!r} is not one of its codes"
            )
        frame[column] = values
    frame = frame[list(COLUMNS)].reset_index(drop=True)
    _check_ranges(frame, origin)
    return frame


def _check_ranges(frame: pd.DataFrame, origin: str) -> None:
    for column, (low, high) in NUMERIC_RANGES.items():
        values = frame[column].to_numpy()
        bad = (values < low) | (values > high)
        if bad.any():
            row = int(np.argmax(bad))
            raise DatasetError(
                f"{origin}: row {row + 1}: {column} {int(values[row])} is outside {low}..{high}"
            )
    target = frame[TARGET_COLUMN].to_numpy()
    bad = ~np.isin(target, list(COVER_TYPES))
    if bad.any():
        row = int(np.argmax(bad))
        raise DatasetError(f"{origin}: row {row + 1}: {TARGET_COLUMN} {int(target[row])} is not in 1..7")
