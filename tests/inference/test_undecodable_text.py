"""Text UTF-8 cannot carry is a 422 naming the field, never a 500 while answering it.

A lone surrogate (``"\\ud800"`` is valid JSON) decodes to a string the answer cannot encode, and a body
that is not UTF-8 JSON (UTF-16, a stray ``0xff``) reaches the 422 handler as bytes; both once made the
answer itself fail. The inference API without a model: validation answers before the model is needed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from covertype.inference.app import create_app
from covertype.schema import EXAMPLE_RECORD
from support.inference import registry_settings


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = registry_settings(Path(tmp_path_factory.mktemp("undecodable")), model_poll_interval=60)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


def _with_surrogate(field: str) -> bytes:
    text = json.dumps({**EXAMPLE_RECORD, field: "SURROGATE"})
    return text.replace('"SURROGATE"', '"\\ud800"').encode()


@pytest.mark.parametrize(
    ("path", "body", "content_type", "loc", "echoed"),
    [
        ("/predict", _with_surrogate("Soil_Type"), "application/json", ["body", "Soil_Type"], "\\ud800"),
        (
            "/predict/batch",
            b'{"records": [' + _with_surrogate("Wilderness_Area") + b"]}",
            "application/json",
            ["body", "records", 0, "Wilderness_Area"],
            "\\ud800",
        ),
        ("/predict", json.dumps(EXAMPLE_RECORD).encode("utf-16"), "text/plain", ["body"], "\\xff\\xfe{"),
        ("/predict", b'{"Soil_Type": "\xff"}', None, ["body"], '"\\xff"'),
    ],
    ids=["lone surrogate", "lone surrogate in a batch", "UTF-16 as text/plain", "invalid UTF-8, no type"],
)
def test_text_utf8_cannot_carry_is_a_422_naming_the_field(
    client: TestClient, path: str, body: bytes, content_type: str | None, loc: list[object], echoed: str
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = client.post(path, content=body, headers=headers)
    assert response.status_code == 422, response.text
    [error] = [error for error in response.json()["detail"] if error["loc"] == loc]
    assert echoed in error["input"]
