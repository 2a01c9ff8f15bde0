"""The canonical schema: names, order and domains every other part relies on."""

from __future__ import annotations

from covertype import schema


def test_the_13_canonical_columns_in_order() -> None:
    assert schema.COLUMNS == (
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
        "Wilderness_Area",
        "Soil_Type",
        "Cover_Type",
    )
    assert schema.COLUMNS[:12] == schema.FEATURE_COLUMNS
    assert schema.TARGET_COLUMN == "Cover_Type"


def test_wilderness_areas_follow_uci_order_and_have_names() -> None:
    assert schema.WILDERNESS_AREAS == ("Rawah", "Neota", "Commanche", "Cache")
    assert set(schema.WILDERNESS_NAMES) == set(schema.WILDERNESS_AREAS)


def test_soil_types_are_the_40_elu_codes_of_uci_soil_type_1_to_40() -> None:
    assert len(schema.SOIL_TYPES) == len(set(schema.SOIL_TYPES)) == 40
    assert schema.SOIL_TYPES[0] == "C2702"
    assert schema.SOIL_TYPES[28] == "C7745"  # Soil_Type29, the most common soil
    assert schema.SOIL_TYPES[-1] == "C8776"
    assert all(code.startswith("C") and code[1:].isdigit() and len(code) == 5 for code in schema.SOIL_TYPES)


def test_cover_types_are_1_to_7_with_names() -> None:
    assert list(schema.COVER_TYPES) == list(range(1, 8))
    assert schema.COVER_TYPES[1] == "Spruce/Fir"
    assert schema.COVER_TYPES[7] == "Krummholz"


def test_every_numeric_column_has_a_range() -> None:
    assert set(schema.NUMERIC_RANGES) == set(schema.NUMERIC_COLUMNS)
    assert all(low < high for low, high in schema.NUMERIC_RANGES.values())


def test_uci_raw_columns_are_55_with_one_hot_blocks() -> None:
    assert len(schema.UCI_COLUMNS) == 55
    assert schema.UCI_COLUMNS[10:14] == schema.UCI_WILDERNESS_COLUMNS
    assert schema.UCI_COLUMNS[14:54] == schema.UCI_SOIL_COLUMNS
    assert schema.UCI_COLUMNS[-1] == schema.TARGET_COLUMN
