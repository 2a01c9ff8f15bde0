"""Numbers JSON cannot hold, as raw tokens: Python's parser (and so FastAPI) reads them as NaN or infinity."""

from __future__ import annotations

import copy
import json
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
