"""Request and response models of the inference API: the OpenAPI schema is the contract.

A record names the 12 feature columns of :mod:`covertype.schema` with their physical ranges and the
wilderness and soil-code domains, so any bad input is a 422 naming the field before the model sees it.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from covertype.schema import COVER_TYPES, EXAMPLE_RECORD, NUMERIC_RANGES, SOIL_TYPES, WILDERNESS_AREAS

# The schema's names as Literal types: built from its tuples at import, which a type checker cannot follow.
WildernessArea = Literal[WILDERNESS_AREAS]  # type: ignore[valid-type]  # a Literal from a tuple
SoilType = Literal[SOIL_TYPES]  # type: ignore[valid-type]  # a Literal from a tuple


def _within(column: str, description: str) -> Any:
    low, high = NUMERIC_RANGES[column]
    return Field(ge=low, le=high, strict=True, description=f"{description} ({low}..{high})")


class CoverFeatures(BaseModel):
    """One observation of a 30 m x 30 m cell: the 12 feature columns, integers as in the source."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={"examples": [dict(EXAMPLE_RECORD)]},
    )

    Elevation: int = _within("Elevation", "metres above sea level")
    Aspect: int = _within("Aspect", "degrees azimuth")
    Slope: int = _within("Slope", "degrees")
    Horizontal_Distance_To_Hydrology: int = _within(
        "Horizontal_Distance_To_Hydrology", "metres to surface water"
    )
    Vertical_Distance_To_Hydrology: int = _within("Vertical_Distance_To_Hydrology", "metres to surface water")
    Horizontal_Distance_To_Roadways: int = _within("Horizontal_Distance_To_Roadways", "metres to a roadway")
    Hillshade_9am: int = _within("Hillshade_9am", "hillshade index at 9am, summer solstice")
    Hillshade_Noon: int = _within("Hillshade_Noon", "hillshade index at noon, summer solstice")
    Hillshade_3pm: int = _within("Hillshade_3pm", "hillshade index at 3pm, summer solstice")
    Horizontal_Distance_To_Fire_Points: int = _within(
        "Horizontal_Distance_To_Fire_Points", "metres to a wildfire ignition point"
    )
    Wilderness_Area: WildernessArea = Field(description="wilderness area (UCI Wilderness_Area1..4)")
    Soil_Type: SoilType = Field(description="USFS ELU soil code (UCI Soil_Type1..40)")

    def as_row(self) -> tuple[int | str, ...]:
        """The values in :data:`covertype.schema.FEATURE_COLUMNS` order, as the model takes them.

        The fields are declared in that order (a test checks), so this is the instance's values as stored.
        """
        return tuple(self.__dict__.values())


class BatchRequest(BaseModel):
    """Several records at once; the service refuses more than ``COVERTYPE_MAX_BATCH_RECORDS`` with a 413."""

    model_config = ConfigDict(extra="forbid")

    records: list[CoverFeatures] = Field(min_length=1, description="the records to classify, at least one")


_PROBABILITY_FIELDS: dict[str, Any] = {
    f"cover_type_{code}": (float, Field(alias=name, description=f"Cover_Type {code}"))
    for code, name in COVER_TYPES.items()
}
ClassProbabilities = create_model(
    "ClassProbabilities",
    __doc__="Every cover type's probability, by name, in Cover_Type order 1..7 (summing to 1); 0.0 for a "
    "class the served version never saw in training.",
    **_PROBABILITY_FIELDS,
)


class Prediction(BaseModel):
    """The class the model chose for one record, with every class's probability."""

    cover_type: int = Field(ge=1, le=7, description="Cover_Type 1..7")
    cover_type_name: str = Field(description="the cover type's name, e.g. 'Lodgepole Pine'")
    probabilities: ClassProbabilities = Field(
        description="probability per cover-type name: always all seven, 0.0 for a class the served version "
        "never saw"
    )
    model_version: str = Field(description="registered model version that answered")


class BatchResponse(BaseModel):
    predictions: list[Prediction]


class LatestBatchQuality(BaseModel):
    """How the served version did on the latest batch it scored, before any training saw that batch
    (the ``batch_quality`` row the ingestion's evaluation wrote)."""

    group_number: int = Field(description="the batch's group")
    batch_number: int = Field(description="the batch's number within its group")
    rows: int = Field(description="rows of the batch the version scored")
    accuracy: float = Field(ge=0, le=1, description="share of the batch's rows classified right")
    macro_f1: float = Field(ge=0, le=1, description="F1 averaged over the classes present")
    drift_score: float | None = Field(
        description="largest population stability index (PSI) against the version's training data among "
        "the features whose difference is beyond chance at these sample sizes (0 when none is); null "
        "without a verdict (see drift_status)"
    )
    drift_status: str = Field(
        description="the drift verdict: drifted, stable, or why there is none: not_enough_rows (too few rows "
        "in the batch or in the version's training data to judge), no_profile, unjudged (measured before "
        "the size-aware test)"
    )
    drifted_features: list[str] = Field(
        description="features whose difference is beyond chance and whose PSI is above "
        "COVERTYPE_DRIFT_THRESHOLD, most drifted first"
    )
    evaluated_at: str = Field(description="UTC time of the evaluation, ISO 8601")


class ServedModelInfo(BaseModel):
    """What the service answers with right now."""

    name: str
    version: str
    alias: str
    run_id: str | None
    metrics: dict[str, float]
    loaded_at: str = Field(description="UTC time the version was loaded, ISO 8601")
    latest_batch: LatestBatchQuality | None = Field(
        None,
        description="the served version on the latest batch it scored (read from the store at load and "
        "at most every COVERTYPE_MODEL_POLL_INTERVAL seconds); null when it has scored none",
    )


class ReloadResponse(BaseModel):
    changed: bool = Field(description="whether a different version is now served")
    model: ServedModelInfo


class ServiceStatus(BaseModel):
    status: str
    detail: str | None = None
