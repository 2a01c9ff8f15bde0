"""Hostile input for the APIs: numbers JSON cannot hold as raw tokens (Python's parser, and so FastAPI, reads
them as NaN or infinity), bodies over the size limit."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

#: Raw JSON tokens (not strings): NaN and infinities as Python writes them, overflowing exponents.
NON_FINITE_TOKENS = ("NaN", "Infinity", "-Infinity", "1e999", "-1e999", "1e400")

_PLACEHOLDER = "__covertype_hostile_value__"


def json_with_token(document: Any, path: tuple[str | int, ...], token: str) -> bytes:
    """``document`` as JSON text with the value at ``path`` (keys and list indices) written as ``token``."""
    document = copy.deepcopy(document)
    target = document
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = _PLACEHOLDER
    return json.dumps(document).replace(f'"{_PLACEHOLDER}"', token).encode()


#: A body no API should read: larger than ``COVERTYPE_MAX_BODY_BYTES``' default (8 MiB).
TEN_MB = 10 * 1024 * 1024
#: Largest answer an API may give to a hostile body.
SMALL_ANSWER = 10 * 1024


def padded_json(size: int) -> bytes:
    """A JSON object of about ``size`` bytes: one string field full of ``x``."""
    return b'{"padding": "' + b"x" * size + b'"}'


def chunked(data: bytes, chunk: int = 64 * 1024) -> Iterator[bytes]:
    """``data`` as a stream, which httpx sends chunked (no ``Content-Length``)."""
    for start in range(0, len(data), chunk):
        yield data[start : start + chunk]
