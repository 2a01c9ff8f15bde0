"""How the served version did on the latest batch it scored, for ``GET /model`` and ``/metrics``.

The ingestion's test-then-train evaluation writes one ``batch_quality`` row per batch and champion
(:mod:`covertype.monitoring.evaluation`); the service reads the served version's latest row when a
version is loaded and again at most every ``ttl`` seconds when asked, never once per request. A store
that cannot be read keeps the last figures and logs why: the API answers without them rather than fail.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from fastapi.concurrency import run_in_threadpool

from covertype.inference.metrics import ServiceMetrics
from covertype.inference.schemas import LatestBatchQuality
from covertype.store.engine import Engine
from covertype.store.errors import StoreError, describe
from covertype.store.quality import BatchQuality, latest_batch_quality

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Reading:
    version: str
    quality: BatchQuality | None
    read_at: float


class ChampionBatchQuality:
    """The served version's latest ``batch_quality`` row, cached for ``ttl`` seconds, mirrored in the
    ``covertype_champion_batch_*`` gauges."""

    def __init__(self, engine: Engine, metrics: ServiceMetrics, *, ttl: float) -> None:
        self._engine = engine
        self._metrics = metrics
        self._ttl = ttl
        self._lock = threading.Lock()
        self._reading: _Reading | None = None

    def refresh(self, version: str) -> BatchQuality | None:
        """Read the latest row of ``version`` now (at a model load); the last figures if the store fails."""
        with self._lock:
            previous = self._reading
            try:
                quality = latest_batch_quality(self._engine, model_version=version)
            except StoreError as exc:
                logger.warning("cannot read batch_quality of version %s: %s", version, describe(exc))
                quality = previous.quality if previous is not None and previous.version == version else None
            self._reading = _Reading(version, quality, time.monotonic())
            self._metrics.champion_batch(version, quality)
            return quality

    async def latest(self, version: str) -> BatchQuality | None:
        """The latest row of ``version``: cached while fresh, else read again (off the event loop)."""
        reading = self._reading
        if (
            reading is not None
            and reading.version == version
            and time.monotonic() - reading.read_at < self._ttl
        ):
            return reading.quality
        return await run_in_threadpool(self.refresh, version)


def latest_batch_info(quality: BatchQuality | None) -> LatestBatchQuality | None:
    """``quality`` as ``GET /model`` shows it (without the per-class and per-feature detail)."""
    if quality is None:
        return None
    return LatestBatchQuality(
        group_number=quality.group_number,
        batch_number=quality.batch_number,
        rows=quality.rows,
        accuracy=quality.accuracy,
        macro_f1=quality.macro_f1,
        drift_score=quality.drift_score,
        drift_status=quality.drift_status,
        drifted_features=quality.drifted_features,
        evaluated_at=quality.evaluated_at.isoformat(),
    )
