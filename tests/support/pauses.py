"""The test's side of :mod:`covertype.pause_points`: arm a point, wait for a process there, release it."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class PausePoints:
    """The folder the harness gives its processes as ``COVERTYPE_PAUSE_DIR``."""

    folder: Path

    def arm(self, name: str) -> None:
        """The next process to reach ``name`` pauses there (one process: the arming is consumed)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        for stale in (f"{name}.reached", f"{name}.release"):
            (self.folder / stale).unlink(missing_ok=True)
        (self.folder / f"{name}.armed").write_text("")

    def wait_reached(self, name: str, timeout: float) -> int:
        """The pid of the process paused at ``name``; fail after ``timeout`` seconds."""
        reached = self.folder / f"{name}.reached"
        deadline = time.monotonic() + timeout
        while not reached.exists():
            if time.monotonic() > deadline:
                pytest.fail(f"no process reached the pause point {name!r} within {timeout:.0f} s")
            time.sleep(0.2)
        return int(reached.read_text() or 0)

    def release(self, name: str) -> None:
        """Let the paused process go on (if it is still alive); disarm the point if nobody reached it."""
        (self.folder / f"{name}.armed").unlink(missing_ok=True)
        (self.folder / f"{name}.release").write_text("")
