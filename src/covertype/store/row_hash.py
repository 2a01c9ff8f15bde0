"""``row_hash``: the identity of a forest-cover row, used to store each row once.

The hash is the MD5 hex digest of the row's 13 canonical values in :data:`covertype.schema.COLUMNS`
order, written as UTF-8 text joined by commas, integers in decimal:
``"2596,51,3,258,0,510,221,232,148,6279,Rawah,C7745,5"``.
Any tool can recompute it; it identifies rows, it protects nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from covertype.schema import COLUMNS, NUMERIC_COLUMNS, TARGET_COLUMN


def row_hash(values: Sequence[object]) -> str:
    """The hash of one row given as its 13 canonical values."""
    return _md5_hex(",".join(str(value) for value in values))


def row_hashes(frame: pd.DataFrame) -> list[str]:
    """The hash of every row of a canonical frame, equal to :func:`row_hash` row by row.

    The text of all rows is built column-wise by Arrow, so only the digest itself runs per row.
    """
    return [_md5_hex(text) for text in canonical_text(frame).to_pylist()]


def canonical_text(frame: pd.DataFrame) -> pa.StringArray:
    """The comma-joined canonical values of every row (what :func:`row_hash` digests)."""
    integers = set(NUMERIC_COLUMNS) | {TARGET_COLUMN}
    parts = [
        pc.cast(pa.array(frame[column].to_numpy()), pa.string())
        if column in integers
        else pa.array(frame[column].to_numpy(dtype=object), type=pa.string())
        for column in COLUMNS
    ]
    return pc.binary_join_element_wise(*parts, ",")


def _md5_hex(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()
