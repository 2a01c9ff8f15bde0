"""Who may change production from the web UI: an operator who signs in with ``COVERTYPE_API_TOKEN``.

The token is the one the inference API's write operation (``POST /model/reload``) takes. A UI started
without it is read-only: anyone who can open the UI can look, nobody can move the champion.
"""

from __future__ import annotations

import secrets

from covertype.settings import Settings

READ_ONLY = (
    "Roll back is off: this UI is read-only because it was started without an operator token. To enable "
    "it, start the UI with `COVERTYPE_API_TOKEN` set (the inference API's write token); an operator then "
    "signs in with that token here. `covertype promote --version N` works from a shell meanwhile."
)


def writes_enabled(settings: Settings) -> bool:
    return bool(settings.api_token)


def accepts(settings: Settings, token: str | None) -> bool:
    """Whether ``token`` is the configured operator token (constant-time comparison); never without one."""
    expected = settings.api_token
    if not expected or not token:
        return False
    return secrets.compare_digest(token.encode(), expected.encode())
