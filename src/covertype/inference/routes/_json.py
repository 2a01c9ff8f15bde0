"""Responses serialized once with orjson: the handlers build plain payloads, validated by construction."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Response


def json_response(payload: Any, status_code: int = 200) -> Response:
    return Response(orjson.dumps(payload), status_code=status_code, media_type="application/json")
