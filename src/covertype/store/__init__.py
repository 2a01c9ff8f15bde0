"""The training-data store: MySQL in the full stack, SQLite as the embedded default."""
