"""The Predict page's example rows: real stored rows when there are some, else the UCI file's first row."""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from covertype.ui.store_queries import random_stored_row

#: The first row of the UCI file (an Aspen stand in the Rawah Wilderness Area).
BUILT_IN_EXAMPLE: Final[dict[str, Any]] = {
    "Elevation": 2596,
    "Aspect": 51,
    "Slope": 3,
    "Horizontal_Distance_To_Hydrology": 258,
    "Vertical_Distance_To_Hydrology": 0,
    "Horizontal_Distance_To_Roadways": 510,
    "Hillshade_9am": 221,
    "Hillshade_Noon": 232,
    "Hillshade_3pm": 148,
    "Horizontal_Distance_To_Fire_Points": 6279,
    "Wilderness_Area": "Rawah",
    "Soil_Type": "C7745",
    "Cover_Type": 5,
}
BUILT_IN_SOURCE: Final = "Example: the first row of the UCI file"


def example_row(engine: Engine) -> tuple[dict[str, Any], str]:
    """A random stored row (13 columns) and where it comes from; the built-in row if the store has none
    or cannot be read."""
    try:
        row = random_stored_row(engine)
    except SQLAlchemyError:
        row = None
    if row is None:
        return dict(BUILT_IN_EXAMPLE), BUILT_IN_SOURCE
    return row, "Example: a random row of the store"
