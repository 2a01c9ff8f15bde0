"""Alembic migrations of the store; applied by :mod:`covertype.store.migrate` (``covertype db upgrade``)."""
