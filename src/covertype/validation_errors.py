"""What both APIs answer to bad input: a 422 naming the field, a 413 for a body over the size limit.

FastAPI's own 422 handler echoes each offending ``input`` back whole: a padded 1 MB field came back once
per error. Here each ``input`` is cut to a short excerpt (:data:`MAX_INPUT_CHARS`, with a marker saying
how long it was) and at most :data:`MAX_ERRORS` errors are listed, so an answer stays a few kilobytes
whatever was sent; ``loc`` still names the field.

Python's JSON parser accepts the tokens ``NaN``, ``Infinity`` and ``-Infinity`` and turns ``1e999`` into
infinity, which strict JSON cannot encode: the default handler then fails while answering and the client
gets a 500. Here non-finite numbers are echoed as the strings ``"NaN"``, ``"Infinity"`` and
``"-Infinity"``, so the answer stays a 422 naming the field. Text that is not UTF-8 fails the same way: a
lone surrogate (``"\ud800"`` is valid JSON) cannot be encoded in the answer, and a body that is not JSON
(UTF-16, invalid UTF-8) is echoed as bytes that FastAPI decodes as UTF-8; both are echoed with
backslash escapes instead.

:class:`BodySizeLimit` refuses a body over ``COVERTYPE_MAX_BODY_BYTES`` before anything parses it.
"""

from __future__ import annotations

import json
import math
from typing import Any, Final

from fastapi import Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: Longest excerpt of an offending input a 422 repeats (characters of its JSON text).
MAX_INPUT_CHARS: Final = 100
#: Most errors one 422 lists; ``omitted_errors`` counts the rest.
MAX_ERRORS: Final = 20


def json_safe(value: Any) -> Any:
    """``value`` with every non-finite float (at any depth) replaced by its JSON token as a string, and
    every text UTF-8 cannot carry (bytes that are not UTF-8, strings with lone surrogates) escaped."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {json_safe(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    return value


def excerpt(value: Any) -> Any:
    """``value`` itself when its JSON text is short, else the text's first characters and a marker."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    if len(text) <= MAX_INPUT_CHARS:
        return value
    return f"{text[:MAX_INPUT_CHARS]}… (truncated, {len(text):,} characters in all)"


async def unprocessable(_: Request, exc: RequestValidationError) -> JSONResponse:
    """FastAPI's 422 shape (``detail``: a list of ``loc``, ``msg``, ``type``, ``input``), always encodable,
    with each ``input`` cut to an excerpt and at most :data:`MAX_ERRORS` errors (``omitted_errors``: the
    number left out)."""
    errors = exc.errors()
    shown = jsonable_encoder(json_safe(errors[:MAX_ERRORS]))
    for error in shown:
        if "input" in error:
            error["input"] = excerpt(error["input"])
    content: dict[str, Any] = {"detail": shown}
    if len(errors) > MAX_ERRORS:
        content["omitted_errors"] = len(errors) - MAX_ERRORS
    return JSONResponse(status_code=status.HTTP_422_UNPROCESSABLE_CONTENT, content=content)


class BodyTooLarge(Exception):
    """A request body grew past the limit while it was read."""


class BodySizeLimit:
    """Pure ASGI middleware: a request body over ``max_bytes`` gets a 413 before the app reads any of it.

    A declared ``Content-Length`` is checked at once. A body without one (chunked) is read and counted
    here, up to ``max_bytes``, and handed to the app only when it ended within the limit.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self._app = app
        self._max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit():
            if int(declared) > self._max_bytes:
                await self._refuse(scope, send, f"request body of {int(declared):,} bytes")
                return
            await self._app(scope, receive, send)
            return
        try:
            messages = await self._read_counted(receive)
        except BodyTooLarge:
            await self._refuse(scope, send, "request body (sent without Content-Length)")
            return
        await self._app(scope, _replay(messages, receive), send)

    async def _read_counted(self, receive: Receive) -> list[Message]:
        """The request's body messages up to the last one (or a disconnect); :class:`BodyTooLarge` past
        the limit."""
        messages: list[Message] = []
        received = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                return messages
            received += len(message.get("body", b""))
            if received > self._max_bytes:
                raise BodyTooLarge
            if not message.get("more_body", False):
                return messages

    async def _refuse(self, scope: Scope, send: Send, what: str) -> None:
        """413 in the ``ServiceStatus`` shape; the connection closes, so the unread rest is dropped."""
        answer = JSONResponse(
            status_code=status.HTTP_413_CONTENT_TOO_LARGE,
            content={
                "status": "content too large",
                "detail": f"{what} is over the limit of {self._max_bytes:,} bytes (COVERTYPE_MAX_BODY_BYTES)",
            },
            headers={"Connection": "close"},
        )
        await answer(scope, _no_body, send)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A ``receive`` that gives ``messages`` first, then whatever the server sends next (a disconnect)."""
    pending = iter(messages)

    async def replayed() -> Message:
        return next(pending, None) or await receive()

    return replayed


async def _no_body() -> Message:
    return {"type": "http.disconnect"}
