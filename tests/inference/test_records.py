"""The fast path of the prediction routes accepts a body only when FastAPI and pydantic accept it, with the
same values: what it declines goes to them, so a record it took wrongly is the one way it could change an
answer."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from covertype.inference.records import Record, decode_batch, decode_record
from covertype.inference.schemas import BatchRequest, CoverFeatures
from covertype.schema import FEATURE_COLUMNS, NUMERIC_RANGES, SOIL_TYPES, WILDERNESS_AREAS
from support.hostile_values import NON_FINITE_TOKENS, json_with_token
from support.inference import GOOD


def reference_record(body: bytes) -> tuple[int | str, ...] | None:
    """What FastAPI makes of ``body`` as ``/predict``'s record: ``json.loads``, then pydantic."""
    try:
        return CoverFeatures.model_validate(json.loads(body)).as_row()
    except (ValueError, ValidationError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return None


def reference_batch(body: bytes) -> list[tuple[int | str, ...]] | None:
    try:
        return [record.as_row() for record in BatchRequest.model_validate(json.loads(body)).records]
    except (ValueError, ValidationError):
        return None


def assert_agrees(body: bytes) -> None:
    """The fast path declines ``body`` or decodes it as the reference does, and takes a valid body."""
    expected = reference_record(body)
    row = decode_record(body)
    if row is not None:
        assert row == expected
    elif expected is not None:  # FastAPI reads other encodings too (a BOM, UTF-16): those may go to it
        assert not body.isascii(), f"a valid UTF-8 body was declined: {body!r}"


def test_the_record_struct_names_the_feature_columns_in_order() -> None:
    """``decode_record`` returns the values in field order, which must be the model's column order."""
    assert Record.__struct_fields__ == FEATURE_COLUMNS == tuple(CoverFeatures.model_fields)


def test_a_valid_record_and_batch_are_decoded_as_pydantic_reads_them() -> None:
    body = json.dumps(GOOD).encode()
    assert decode_record(body) == reference_record(body) == tuple(GOOD[c] for c in FEATURE_COLUMNS)
    second = {**GOOD, "Elevation": 3111, "Soil_Type": "C2702"}
    batch = json.dumps({"records": [GOOD, second]}).encode()
    rows = reference_batch(batch)
    assert rows is not None
    assert decode_batch(batch) == list(zip(*rows, strict=True))


def _with(field: str, value: Any) -> bytes:
    return json.dumps({**GOOD, field: value}).encode()


TRICKY = {
    "float for an integer": _with("Aspect", 51.0),
    "exponent for an integer": json.dumps(GOOD).replace('"Elevation": 2596', '"Elevation": 2.596e3').encode(),
    "boolean for an integer": _with("Slope", True),
    "string for an integer": _with("Slope", "3"),
    "null": _with("Slope", None),
    "integer past int64": _with("Elevation", 10**30),
    "bound below": _with("Vertical_Distance_To_Hydrology", -1_000),
    "past the bound below": _with("Vertical_Distance_To_Hydrology", -1_001),
    "bound above": _with("Hillshade_Noon", 255),
    "past the bound above": _with("Hillshade_Noon", 256),
    "unknown soil code": _with("Soil_Type", "C9999"),
    "soil code in lower case": _with("Soil_Type", "c7745"),
    "number for a soil code": _with("Soil_Type", 7745),
    "extra field": _with("Cover_Type", 5),
    "missing field": json.dumps({k: v for k, v in GOOD.items() if k != "Slope"}).encode(),
    "duplicate key (the last one counts)": json.dumps(GOOD)[:-1].encode() + b', "Elevation": 3000}',
    "escaped string": json.dumps(GOOD).replace('"Rawah"', '"\\u0052awah"').encode(),
    "escaped key": json.dumps(GOOD).replace('"Slope"', '"\\u0053lope"').encode(),
    "lone surrogate": json.dumps(GOOD).replace('"Rawah"', '"\\ud800"').encode(),
    "invalid UTF-8": json.dumps(GOOD).replace("Rawah", "Raw\udcffah").encode("utf-8", "surrogateescape"),
    "byte order mark": b"\xef\xbb\xbf" + json.dumps(GOOD).encode(),
    "UTF-16": json.dumps(GOOD).encode("utf-16"),
    "whitespace around": b" \n\t" + json.dumps(GOOD).encode() + b"\r\n",
    "trailing data": json.dumps(GOOD).encode() + b"x",
    "truncated": json.dumps(GOOD).encode()[:-1],
    "a list of the record": json.dumps([GOOD]).encode(),
    "empty": b"",
    **{f"raw {token}": json_with_token(GOOD, ("Elevation",), token) for token in NON_FINITE_TOKENS},
}


@pytest.mark.parametrize("case", TRICKY)
def test_a_tricky_body_is_declined_or_read_as_pydantic_reads_it(case: str) -> None:
    assert_agrees(TRICKY[case])


def test_batches_the_declared_model_refuses_are_declined() -> None:
    for body in (
        b'{"records": []}',
        json.dumps({"records": [GOOD], "extra": 1}).encode(),
        json.dumps({"records": GOOD}).encode(),
        json.dumps({"records": [GOOD, {**GOOD, "Aspect": 51.5}]}).encode(),
        json.dumps([GOOD]).encode(),
        b'{"records": [' + json.dumps(GOOD).encode() + b"]",
    ):
        assert reference_batch(body) is None
        assert decode_batch(body) is None


_VALUES = st.one_of(
    st.integers(min_value=-2_000, max_value=25_000),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
    st.sampled_from(WILDERNESS_AREAS + SOIL_TYPES + ("", "rawah", "C27020")),
    st.lists(st.integers(), max_size=2),
)


@st.composite
def records(draw: st.DrawFn) -> dict[str, Any]:
    """Records near the valid ones: each field valid, or replaced by any JSON value, or left out; maybe an
    extra field."""
    record: dict[str, Any] = {}
    for column in FEATURE_COLUMNS:
        choice = draw(st.sampled_from(["valid", "valid", "valid", "other", "missing"]))
        if choice == "valid":
            if column in NUMERIC_RANGES:
                low, high = NUMERIC_RANGES[column]
                record[column] = draw(st.integers(low, high))
            else:
                record[column] = draw(
                    st.sampled_from(WILDERNESS_AREAS if column == "Wilderness_Area" else SOIL_TYPES)
                )
        elif choice == "other":
            record[column] = draw(_VALUES)
    if draw(st.booleans()) and draw(st.booleans()):
        record[draw(st.sampled_from(["Cover_Type", "elevation", "id"]))] = draw(_VALUES)
    return record


@settings(max_examples=500, deadline=None, database=None)
@given(records())
def test_generated_records_are_declined_or_read_as_pydantic_reads_them(record: dict[str, Any]) -> None:
    assert_agrees(json.dumps(record).encode())


@settings(max_examples=100, deadline=None, database=None)
@given(st.lists(records(), min_size=1, max_size=4))
def test_generated_batches_are_declined_or_read_as_pydantic_reads_them(batch: list[dict[str, Any]]) -> None:
    body = json.dumps({"records": batch}).encode()
    expected = reference_batch(body)
    columns = decode_batch(body)
    if columns is not None:
        assert expected is not None and columns == list(zip(*expected, strict=True))
    else:
        assert expected is None
