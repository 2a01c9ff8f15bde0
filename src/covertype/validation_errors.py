"""The 422 answer both APIs give for invalid input, safe for every value a client can send.

FastAPI's own handler echoes each offending ``input`` back as JSON. Python's JSON parser accepts the
tokens ``NaN``, ``Infinity`` and ``-Infinity`` and turns ``1e999`` into infinity, which strict JSON cannot
encode: the default handler then fails while answering and the client gets a 500. Here non-finite numbers
are echoed as the strings ``"NaN"``, ``"Infinity"`` and ``"-Infinity"``, so the answer stays a 422 naming
the field.
"""

from __future__ import annotations

import math
from typing import Any

from fastapi import Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse


def json_safe(value: Any) -> Any:
    """``value`` with every non-finite float (at any depth) replaced by its JSON token as a string."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    return value


async def unprocessable(_: Request, exc: RequestValidationError) -> JSONResponse:
    """FastAPI's 422 shape (``detail``: a list of ``loc``, ``msg``, ``type``, ``input``), always encodable."""
    return JSONResponse(
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        content={"detail": json_safe(jsonable_encoder(exc.errors()))},
    )
