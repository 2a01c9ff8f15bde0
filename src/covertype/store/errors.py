"""How the store fails, for callers that handle it without depending on SQLAlchemy."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, SQLAlchemyError

#: Every failure of the store: unreachable, refused, or a statement the database rejected.
StoreError = SQLAlchemyError

#: MySQL client errors of a server that cannot be reached or went away (2003, 2006, 2013).
_CONNECTION_ERRORS = frozenset({2003, 2006, 2013})


def connection_lost(exc: BaseException) -> bool:
    """Whether ``exc`` is a lost or refused database connection (worth another attempt)."""
    if not isinstance(exc, DBAPIError):
        return False
    code = exc.orig.args[0] if exc.orig is not None and exc.orig.args else None
    return exc.connection_invalidated or code in _CONNECTION_ERRORS


def describe(exc: StoreError) -> str:
    """The driver's message without the statement (a batch's SQL runs to megabytes)."""
    cause = exc.orig if isinstance(exc, DBAPIError) else exc
    return f"{type(cause).__name__}: {cause}"
