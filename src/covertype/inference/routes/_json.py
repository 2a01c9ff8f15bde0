"""Responses serialized once with msgspec: the handlers build plain payloads or the service's answer
structs (:class:`covertype.inference.service.Answer`), valid by construction."""

from __future__ import annotations

from typing import Any

import msgspec
from fastapi import Response

_encoder = msgspec.json.Encoder()


def json_response(payload: Any, status_code: int = 200) -> Response:
    return Response(_encoder.encode(payload), status_code=status_code, media_type="application/json")
