"""Predictions as the API answers them: class, class name, probabilities and model version per record.

Model calls run in one dedicated thread (never two at once, one OpenMP thread each), so the event loop
stays free to accept requests and the model never competes with itself for the two cores. Each answered
group is counted by class and queued for the prediction log.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from covertype.inference.batching import MicroBatcher
from covertype.inference.metrics import ServiceMetrics
from covertype.inference.model_holder import ModelHolder
from covertype.inference.prediction_log import AnsweredRecords, PredictionLog
from covertype.inference.predictor import Row

Answer = dict[str, Any]
"""One record's answer, shaped as :class:`covertype.inference.schemas.Prediction`."""


class BatchTooLarge(ValueError):
    """More records than ``COVERTYPE_MAX_BATCH_RECORDS`` in one request."""


def _single_openmp_thread() -> None:
    threadpool_limits(limits=1, user_api="openmp")  # OpenMP limits apply to the calling thread only


class PredictionService:
    def __init__(
        self,
        holder: ModelHolder,
        log: PredictionLog,
        metrics: ServiceMetrics,
        *,
        max_batch_records: int,
        max_group: int = 64,
    ) -> None:
        self._holder = holder
        self._log = log
        self._metrics = metrics
        self.max_batch_records = max_batch_records
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="model", initializer=_single_openmp_thread)
        self._batcher: MicroBatcher[Row, Answer] = MicroBatcher(
            self.answer, self._executor, max_group=max_group
        )

    async def predict_one(self, row: Row) -> Answer:
        """Answer one record, grouped with the records of concurrent requests."""
        return await self._batcher.submit(row)

    async def predict_many(self, rows: Sequence[Row]) -> list[Answer]:
        """Answer a batch request's records in one model call."""
        if len(rows) > self.max_batch_records:
            raise BatchTooLarge(
                f"records: {len(rows)} records exceed the limit of {self.max_batch_records} per batch "
                "(COVERTYPE_MAX_BATCH_RECORDS); split the request"
            )
        return await asyncio.get_running_loop().run_in_executor(self._executor, self.answer, rows)

    def answer(self, rows: Sequence[Row]) -> list[Answer]:
        """Predict ``rows`` with the served model; raises ``ModelUnavailable`` when none is loaded."""
        served = self._holder.require()
        probabilities = served.predictor.predict_proba(rows)
        best = probabilities.argmax(axis=1)
        classes = np.asarray(served.classes)[best]
        self._log.record(
            AnsweredRecords(
                rows=rows,
                cover_types=classes,
                probabilities=probabilities[np.arange(len(best)), best],
                model_name=served.name,
                model_version=served.version,
                predicted_at=datetime.now(UTC).replace(tzinfo=None),
            )
        )
        for cover_type, count in zip(*np.unique(classes, return_counts=True), strict=True):
            self._metrics.predictions.labels(cover_type=str(cover_type)).inc(int(count))
        names = served.class_names
        return [
            {
                "cover_type": served.classes[index],
                "cover_type_name": names[index],
                "probabilities": dict(zip(names, row, strict=True)),
                "model_version": served.version,
            }
            for index, row in zip(best.tolist(), probabilities.tolist(), strict=True)
        ]

    def close(self) -> None:
        self._executor.shutdown(wait=True)
