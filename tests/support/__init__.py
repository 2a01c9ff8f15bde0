"""Helpers the test modules share, one module per area (``tests/<area>/`` mirrors ``src/covertype``)."""
