"""The Predict page's example rows: real stored rows when there are some, else the UCI file's first row."""

from __future__ import annotations

from typing import Any, Final

from covertype.schema import EXAMPLE_COVER_TYPE, EXAMPLE_RECORD, TARGET_COLUMN
from covertype.store.engine import Engine
from covertype.store.errors import StoreError
from covertype.store.rows import random_stored_row

#: The first row of the UCI file (an Aspen stand in the Rawah Wilderness Area).
BUILT_IN_EXAMPLE: Final[dict[str, Any]] = {**EXAMPLE_RECORD, TARGET_COLUMN: EXAMPLE_COVER_TYPE}
BUILT_IN_SOURCE: Final = "Example: the first row of the UCI file"


def example_row(engine: Engine) -> tuple[dict[str, Any], str]:
    """A random stored row (13 columns) and where it comes from; the built-in row if the store has none
    or cannot be read."""
    try:
        row = random_stored_row(engine)
    except StoreError:
        row = None
    if row is None:
        return dict(BUILT_IN_EXAMPLE), BUILT_IN_SOURCE
    return row, "Example: a random row of the store"
