"""Helpers of the data API tests: a fake clock, settings on a temp state file, a real server process."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from covertype.processes import Service
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


@dataclass
class DataApiService(Service):
    """``covertype data-api``: healthy once ``/health`` answers and each of its ``workers`` has started."""

    workers: int = 1

    def _answers(self) -> bool:
        assert self.log_path is not None
        started = self.log_path.read_text(errors="replace").count("Application startup complete")
        return started >= self.workers and super()._answers()


@contextmanager
def data_api_server(settings: Settings, *, port: int, workers: int = 1) -> Iterator[str]:
    """``covertype data-api`` in a subprocess on 127.0.0.1:port; yields its base URL, stops it after."""
    command = [
        str(Path(sys.executable).parent / "covertype"),
        "data-api",
        "--host", "127.0.0.1",
        "--port", str(port),
        "--workers", str(workers),
    ]  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    log = settings.data_dir / f"data-api-{port}.log"
    log.unlink(missing_ok=True)  # the log holds this run only: a restart's workers count anew
    service = DataApiService(
        "data API",
        command,
        f"{url}/health",
        port,
        settings=settings,
        log_path=log,
        start_timeout=180,  # four workers importing pandas on two busy cores take a while
        workers=workers,
    )
    with service:
        yield url
