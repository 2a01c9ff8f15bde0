"""What differs between the store's SQL dialects (MySQL/MariaDB, SQLite), kept free of heavy imports."""

from __future__ import annotations

from sqlalchemy import Dialect

_IGNORE_DUPLICATES = {"mysql": "IGNORE", "mariadb": "IGNORE", "sqlite": "OR IGNORE"}


def ignore_duplicates(dialect: Dialect) -> str:
    """The INSERT prefix that skips rows whose unique key is stored already, for the store's dialect."""
    try:
        return _IGNORE_DUPLICATES[dialect.name]
    except KeyError:
        raise ValueError(
            f"the store supports MySQL/MariaDB and SQLite, not {dialect.name!r}: "
            "no insert that skips duplicates"
        ) from None
