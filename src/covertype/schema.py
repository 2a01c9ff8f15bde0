"""The canonical cover-type schema: columns, domains, ranges, class names and the model candidates' names.

Everything that names a column, a wilderness area, a soil code, a class or a candidate imports it from here
(no dependency: ``covertype train --help`` reads the candidates' names without importing pydantic).
"""

from __future__ import annotations

from typing import Final

NUMERIC_COLUMNS: Final[tuple[str, ...]] = (
    "Elevation",
    "Aspect",
    "Slope",
    "Horizontal_Distance_To_Hydrology",
    "Vertical_Distance_To_Hydrology",
    "Horizontal_Distance_To_Roadways",
    "Hillshade_9am",
    "Hillshade_Noon",
    "Hillshade_3pm",
    "Horizontal_Distance_To_Fire_Points",
)
CATEGORICAL_COLUMNS: Final[tuple[str, ...]] = ("Wilderness_Area", "Soil_Type")
FEATURE_COLUMNS: Final[tuple[str, ...]] = NUMERIC_COLUMNS + CATEGORICAL_COLUMNS
TARGET_COLUMN: Final = "Cover_Type"
COLUMNS: Final[tuple[str, ...]] = FEATURE_COLUMNS + (TARGET_COLUMN,)

#: UCI Wilderness_Area1..4, in order.
WILDERNESS_AREAS: Final[tuple[str, ...]] = ("Rawah", "Neota", "Commanche", "Cache")
WILDERNESS_NAMES: Final[dict[str, str]] = {
    "Rawah": "Rawah Wilderness Area",
    "Neota": "Neota Wilderness Area",
    "Commanche": "Comanche Peak Wilderness Area",
    "Cache": "Cache la Poudre Wilderness Area",
}

#: USFS ELU codes of UCI Soil_Type1..40, in order.
SOIL_TYPES: Final[tuple[str, ...]] = tuple(
    [
        "C2702",
        "C2703",
        "C2704",
        "C2705",
        "C2706",
        "C2717",
        "C3501",
        "C3502",
        "C4201",
        "C4703",
        "C4704",
        "C4744",
        "C4758",
        "C5101",
        "C5151",
        "C6101",
        "C6102",
        "C6731",
        "C7101",
        "C7102",
        "C7103",
        "C7201",
        "C7202",
        "C7700",
        "C7701",
        "C7702",
        "C7709",
        "C7710",
        "C7745",
        "C7746",
        "C7755",
        "C7756",
        "C7757",
        "C7790",
        "C8703",
        "C8707",
        "C8708",
        "C8771",
        "C8772",
        "C8776",
    ]
)

#: Cover_Type 1..7 and the names users read.
COVER_TYPES: Final[dict[int, str]] = {
    1: "Spruce/Fir",
    2: "Lodgepole Pine",
    3: "Ponderosa Pine",
    4: "Cottonwood/Willow",
    5: "Aspen",
    6: "Douglas-fir",
    7: "Krummholz",
}

#: Inclusive physical ranges of the numeric columns (metres, degrees, hillshade index 0..255).
#: Wider than the observed data so that plausible new samples pass, narrow enough to catch garbage.
NUMERIC_RANGES: Final[dict[str, tuple[int, int]]] = {
    "Elevation": (0, 5000),
    "Aspect": (0, 360),
    "Slope": (0, 90),
    "Horizontal_Distance_To_Hydrology": (0, 10_000),
    "Vertical_Distance_To_Hydrology": (-1_000, 1_000),
    "Horizontal_Distance_To_Roadways": (0, 20_000),
    "Hillshade_9am": (0, 255),
    "Hillshade_Noon": (0, 255),
    "Hillshade_3pm": (0, 255),
    "Horizontal_Distance_To_Fire_Points": (0, 20_000),
}

#: A valid record: the 12 features of the UCI file's first row (an Aspen stand, Cover_Type 5, in Rawah).
EXAMPLE_RECORD: Final[dict[str, int | str]] = {
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
}
EXAMPLE_COVER_TYPE: Final = 5

#: Column names of the UCI raw file (55 columns, one-hot wilderness and soil).
UCI_WILDERNESS_COLUMNS: Final[tuple[str, ...]] = tuple(f"Wilderness_Area{i}" for i in range(1, 5))
UCI_SOIL_COLUMNS: Final[tuple[str, ...]] = tuple(f"Soil_Type{i}" for i in range(1, 41))
UCI_COLUMNS: Final[tuple[str, ...]] = (
    NUMERIC_COLUMNS + UCI_WILDERNESS_COLUMNS + UCI_SOIL_COLUMNS + (TARGET_COLUMN,)
)

#: The candidate model families training knows, by name, in the order they are trained by default: the one
#: list (training's :data:`covertype.training.candidates.CANDIDATES` defines one candidate per name here, and
#: a test checks it; ``COVERTYPE_CANDIDATES`` defaults to all of them).
CANDIDATE_NAMES: Final[tuple[str, ...]] = ("hgb", "lightgbm", "random_forest", "extra_trees", "logreg")
