"""Predictions as the API answers them: class, class name, probabilities and model version per record.

Single records are grouped and predicted on the event loop (see :mod:`covertype.inference.batching`);
batch requests, which may take tens of milliseconds, are predicted in one dedicated thread so that single
requests keep flowing meanwhile. The model is the registered ONNX graph in ONNX Runtime
(:class:`~covertype.model.runtime.GraphPredictor`), whose thread count is ``COVERTYPE_ONNX_THREADS``.
Each answered group is counted by class and queued for the prediction log.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import numpy as np

from covertype.inference.batching import MicroBatcher
from covertype.inference.metrics import ServiceMetrics
from covertype.inference.model_holder import ALL_CLASSES, ModelHolder
from covertype.inference.prediction_log import AnsweredRecords, PredictionLog
from covertype.model.graph_inputs import Row
from covertype.schema import COVER_TYPES

_NAMES = tuple(COVER_TYPES[cover_type] for cover_type in ALL_CLASSES)

Answer = dict[str, Any]
"""One record's answer, shaped as :class:`covertype.inference.schemas.Prediction`."""


class BatchTooLarge(ValueError):
    """More records than ``COVERTYPE_MAX_BATCH_RECORDS`` in one request."""


class PredictionService:
    def __init__(
        self,
        holder: ModelHolder,
        log: PredictionLog,
        metrics: ServiceMetrics,
        *,
        max_batch_records: int,
    ) -> None:
        self._holder = holder
        self._log = log
        self._metrics = metrics
        self.max_batch_records = max_batch_records
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="batch")
        self._batcher: MicroBatcher[Row, Answer] = MicroBatcher(self.answer)

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
        probabilities = served.predict_proba(rows)
        best = probabilities.argmax(axis=1)
        cover_types = [ALL_CLASSES[index] for index in best.tolist()]
        self._log.record(
            AnsweredRecords(
                features=list(zip(*rows, strict=True)),
                cover_types=cover_types,
                probabilities=probabilities[np.arange(len(best)), best].tolist(),
                model_name=served.name,
                model_version=served.version,
                predicted_at=datetime.now(UTC).replace(tzinfo=None),
            )
        )
        for cover_type, count in Counter(cover_types).items():
            self._metrics.predictions.labels(cover_type=str(cover_type)).inc(count)
        return [
            {
                "cover_type": ALL_CLASSES[index],
                "cover_type_name": _NAMES[index],
                "probabilities": dict(zip(_NAMES, row, strict=True)),
                "model_version": served.version,
            }
            for index, row in zip(best.tolist(), probabilities.tolist(), strict=True)
        ]

    def close(self) -> None:
        self._executor.shutdown(wait=True)
