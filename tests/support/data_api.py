"""Helpers of the data API tests: a fake clock, settings on a temp state file, a real server process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from covertype.settings import Settings


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def data_api_settings(tmp_path: Path, sample_csv: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "data_source": str(sample_csv),
        "data_dir": tmp_path,
        "state_path": tmp_path / "state.sqlite",
        "groups": 3,
        "batches": 5,
        "batch_interval": 60.0,
        "sample_fraction": 0.1,
        "seed": 7,
    }
    values.update(overrides)
    return Settings(**values)


@contextmanager
def data_api_server(settings: Settings, *, port: int, workers: int = 1) -> Iterator[str]:
    """``covertype data-api`` in a subprocess on 127.0.0.1:port; yields its base URL, kills it after."""
    env = settings.child_environ(os.environ)
    command = [
        str(Path(sys.executable).parent / "covertype"),
        "data-api",
        "--host", "127.0.0.1",
        "--port", str(port),
        "--workers", str(workers),
    ]  # fmt: skip
    log = settings.data_dir / f"data-api-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, process, log, workers=workers)
        yield url
    finally:
        stop_server(process)


def stop_server(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group (uvicorn and its workers), SIGKILL if it lingers."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path, *, workers: int) -> None:
    deadline = time.monotonic() + 180  # four workers importing pandas on two busy cores take a while
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"data API exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200 and _workers_started(log) >= workers:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"data API not healthy within 180 s:\n{log.read_text()}")


def _workers_started(log: Path) -> int:
    return log.read_text(errors="replace").count("Application startup complete")
