"""Test-only pause points: where a fault test must land a kill at an exact line, not after a guessed delay.

Off unless the process's environment has ``COVERTYPE_PAUSE_DIR`` (only the fault harness,
``tests/support/topology.py``, sets it; it is no setting of the product). Then a point named ``name``
pauses once per *arming*: the test creates ``<dir>/<name>.armed``; the first process to reach the point
removes it (so a retry passes through), writes ``<dir>/<name>.reached`` (its pid) and waits until the test
creates ``<dir>/<name>.release`` or :data:`LONGEST_PAUSE` passes. Meanwhile the test kills what it came to
kill (the worker running this code, the MLflow server, the database) and releases the point.

The points, each placed where a fault matters:

- :data:`CANDIDATE_LOGGING`: a candidate's nested MLflow run is open (``RUNNING``), its model not logged;
- :data:`VERSION_CREATED`: a model version exists, without the training's reason tags and not promoted;
- :data:`BATCH_BEFORE_COMMIT`: a batch's rows are inserted in the open transaction, not committed.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

#: The environment variable naming the folder of arming files; unset in every real deployment.
PAUSE_DIR_ENV = "COVERTYPE_PAUSE_DIR"
#: A point released by nobody goes on after this long (a test that died must not hang a worker forever).
LONGEST_PAUSE = 600.0

CANDIDATE_LOGGING = "candidate-logging"
VERSION_CREATED = "version-created"
BATCH_BEFORE_COMMIT = "batch-before-commit"


def pause_point(name: str) -> None:
    """Pause here if a test armed ``name`` (see the module's docstring); return at once otherwise."""
    folder = os.environ.get(PAUSE_DIR_ENV)
    if not folder:
        return
    try:
        (Path(folder) / f"{name}.armed").unlink()
    except FileNotFoundError:
        return
    release = Path(folder) / f"{name}.release"
    (Path(folder) / f"{name}.reached").write_text(str(os.getpid()))
    deadline = time.monotonic() + LONGEST_PAUSE
    while not release.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    release.unlink(missing_ok=True)
