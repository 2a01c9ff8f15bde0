"""Names people read for the codes the data uses: wilderness areas, ELU soil codes, cover types."""

from __future__ import annotations

from typing import Final

from covertype.schema import COVER_TYPES, SOIL_TYPES, WILDERNESS_NAMES

#: USFS soil family names of UCI Soil_Type1..40, as listed in the UCI ``covtype.info``, in order.
SOIL_NAMES: Final[tuple[str, ...]] = (
    "Cathedral family - Rock outcrop complex, extremely stony",
    "Vanet - Ratake families complex, very stony",
    "Haploborolis - Rock outcrop complex, rubbly",
    "Ratake family - Rock outcrop complex, rubbly",
    "Vanet family - Rock outcrop complex, rubbly",
    "Vanet - Wetmore families - Rock outcrop complex, stony",
    "Gothic family",
    "Supervisor - Limber families complex",
    "Troutville family, very stony",
    "Bullwark - Catamount families - Rock outcrop complex, rubbly",
    "Bullwark - Catamount families - Rock land complex, rubbly",
    "Legault family - Rock land complex, stony",
    "Catamount family - Rock land - Bullwark family complex, rubbly",
    "Pachic Argiborolis - Aquolis complex",
    "unspecified in the USFS Soil and ELU Survey",
    "Cryaquolis - Cryoborolis complex",
    "Gateview family - Cryaquolis complex",
    "Rogert family, very stony",
    "Typic Cryaquolis - Borohemists complex",
    "Typic Cryaquepts - Typic Cryaquolls complex",
    "Typic Cryaquolls - Leighcan family, till substratum complex",
    "Leighcan family, till substratum, extremely bouldery",
    "Leighcan family, till substratum - Typic Cryaquolls complex",
    "Leighcan family, extremely stony",
    "Leighcan family, warm, extremely stony",
    "Granile - Catamount families complex, very stony",
    "Leighcan family, warm - Rock outcrop complex, extremely stony",
    "Leighcan family - Rock outcrop complex, extremely stony",
    "Como - Legault families complex, extremely stony",
    "Como family - Rock land - Legault family complex, extremely stony",
    "Leighcan - Catamount families complex, extremely stony",
    "Catamount family - Rock outcrop - Leighcan family complex, extremely stony",
    "Leighcan - Catamount families - Rock outcrop complex, extremely stony",
    "Cryorthents - Rock land complex, extremely stony",
    "Cryumbrepts - Rock outcrop - Cryaquepts complex",
    "Bross family - Rock land - Cryumbrepts complex, extremely stony",
    "Rock outcrop - Cryumbrepts - Cryorthents complex, extremely stony",
    "Leighcan - Moran families - Cryaquolls complex, extremely stony",
    "Moran family - Cryorthents - Leighcan family complex, extremely stony",
    "Moran family - Cryorthents - Rock land complex, extremely stony",
)

_SOIL_LABELS: Final[dict[str, str]] = {
    code: f"{code} — soil type {number}: {name}"
    for number, (code, name) in enumerate(zip(SOIL_TYPES, SOIL_NAMES, strict=True), start=1)
}

#: Readable names of the features, for form labels and table headers.
FEATURE_LABELS: Final[dict[str, str]] = {
    "Elevation": "Elevation (m)",
    "Aspect": "Aspect (° azimuth)",
    "Slope": "Slope (°)",
    "Horizontal_Distance_To_Hydrology": "Horizontal distance to water (m)",
    "Vertical_Distance_To_Hydrology": "Vertical distance to water (m)",
    "Horizontal_Distance_To_Roadways": "Distance to a road (m)",
    "Hillshade_9am": "Hillshade at 9am (0-255)",
    "Hillshade_Noon": "Hillshade at noon (0-255)",
    "Hillshade_3pm": "Hillshade at 3pm (0-255)",
    "Horizontal_Distance_To_Fire_Points": "Distance to a wildfire ignition point (m)",
    "Wilderness_Area": "Wilderness area",
    "Soil_Type": "Soil type (USFS ELU code)",
}


def soil_label(code: str) -> str:
    """``C7745 — soil type 29: Como - Legault families complex, extremely stony``; the code if unknown."""
    return _SOIL_LABELS.get(code, code)


def wilderness_label(area: str) -> str:
    return WILDERNESS_NAMES.get(area, area)


def cover_type_label(cover_type: int) -> str:
    """``2 Lodgepole Pine``."""
    return f"{cover_type} {COVER_TYPES.get(cover_type, '?')}"
