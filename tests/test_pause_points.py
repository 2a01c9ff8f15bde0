"""The test-only pause points (covertype.pause_points): off without COVERTYPE_PAUSE_DIR, once per arming."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from covertype.pause_points import PAUSE_DIR_ENV, pause_point

POINT = "some-point"


def test_an_unset_pause_dir_returns_at_once(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(PAUSE_DIR_ENV, raising=False)
    (tmp_path / f"{POINT}.armed").touch()  # armed in a folder nobody named: no effect

    started = time.monotonic()
    pause_point(POINT)

    assert time.monotonic() - started < 0.5
    assert not (tmp_path / f"{POINT}.reached").exists()


def test_an_armed_point_pauses_until_released_then_passes(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(PAUSE_DIR_ENV, str(tmp_path))
    (tmp_path / f"{POINT}.armed").touch()
    paused = threading.Thread(target=pause_point, args=(POINT,), daemon=True)

    paused.start()
    reached = tmp_path / f"{POINT}.reached"
    deadline = time.monotonic() + 10
    while not reached.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    still_paused = paused.is_alive()
    (tmp_path / f"{POINT}.release").touch()
    paused.join(timeout=10)

    assert reached.exists(), "the point did not say it was reached"
    assert still_paused, "the point went on before it was released"
    assert not paused.is_alive(), "the release did not let it go on"
    assert not (tmp_path / f"{POINT}.armed").exists(), "the arming was not consumed"
    started = time.monotonic()
    pause_point(POINT)  # the second pass (a retry) is not paused
    assert time.monotonic() - started < 0.5
