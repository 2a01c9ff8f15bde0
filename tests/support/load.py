"""Predictions sent through the load balancer by a few client threads, each outcome timed: what the stages
measure a fault's cost in failed predictions with."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx

#: Clients predicting at once.
CLIENTS = 4


@dataclass
class Load:
    """Predictions sent through the load balancer by ``clients`` threads: (seconds since start, status)."""

    url: str
    record: dict[str, object]
    clients: int = CLIENTS
    started: float = field(default_factory=time.monotonic)
    outcomes: list[tuple[float, int | str, float]] = field(default_factory=list)  # (at, status, latency)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, seconds: float, at_half: Callable[[], None] | None = None) -> Load:
        """Send for ``seconds``; call ``at_half`` (from this thread) halfway."""
        with self.background():
            if at_half is not None:
                time.sleep(seconds / 2)
                at_half()
                time.sleep(seconds / 2)
            else:
                time.sleep(seconds)
        return self

    @contextmanager
    def background(self) -> Iterator[Load]:
        """Send while the ``with`` block runs (a fault of unknown length), then stop the clients."""
        self.started = time.monotonic()
        stop = threading.Event()
        threads = [threading.Thread(target=self._client, args=(stop,)) for _ in range(self.clients)]
        for thread in threads:
            thread.start()
        try:
            yield self
        finally:
            stop.set()
            for thread in threads:
                thread.join()

    def _client(self, stop: threading.Event) -> None:
        with httpx.Client(timeout=30) as client:
            while not stop.is_set():
                sent = time.monotonic()
                try:
                    status: int | str = client.post(f"{self.url}/predict", json=self.record).status_code
                except httpx.HTTPError as error:
                    status = type(error).__name__
                with self._lock:
                    self.outcomes.append((sent - self.started, status, time.monotonic() - sent))

    @property
    def failures(self) -> list[tuple[float, int | str, float]]:
        return [outcome for outcome in self.outcomes if outcome[1] != 200]

    def figures(self) -> dict[str, object]:
        latencies = sorted(latency for _, _, latency in self.outcomes)
        failed = self.failures
        return {
            "requests": len(self.outcomes),
            "failed": len(failed),
            "failed_statuses": sorted({str(status) for _, status, _ in failed}),
            "failures_from_s": round(failed[0][0], 3) if failed else None,
            "failures_until_s": round(failed[-1][0], 3) if failed else None,
            "latency_p50_ms": round(1000 * latencies[len(latencies) // 2], 1),
            "latency_max_ms": round(1000 * latencies[-1], 1),
        }
