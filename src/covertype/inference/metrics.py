"""Prometheus series of the inference API, one registry per application.

Requests and latency by endpoint (:mod:`covertype.http_metrics`), predictions by class, the served model
version and its holdout accuracy, how that version did on the latest batch it scored
(``covertype_champion_batch_*``), and what the prediction log wrote, dropped or failed to write. With
several uvicorn workers each worker reports its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from prometheus_client import Counter, Gauge

from covertype.http_metrics import HttpMetrics

if TYPE_CHECKING:
    from covertype.store.quality import BatchQuality

#: Latency buckets in seconds, dense around the single-record target (10 ms).
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class ServiceMetrics(HttpMetrics):
    def __init__(self) -> None:
        super().__init__(_LATENCY_BUCKETS)
        self.predictions = Counter(
            "covertype_predictions",
            "Records classified, by predicted cover type",
            ["cover_type"],
            registry=self.registry,
        )
        self._predicted: dict[int, Counter] = {}
        self.model_info = Gauge(
            "covertype_model_info",
            "1 for the registered model version being served",
            ["name", "version", "alias"],
            registry=self.registry,
        )
        self.holdout_accuracy = Gauge(
            "covertype_model_holdout_accuracy",
            "Accuracy of the served version on its own holdout rows (its run's metric): what its batch "
            "accuracy is compared with; no series when the run has no such metric",
            ["version"],
            registry=self.registry,
        )
        self.batch_accuracy = Gauge(
            "covertype_champion_batch_accuracy",
            "Accuracy of the served version on the latest batch it scored before training on it",
            ["version"],
            registry=self.registry,
        )
        self.batch_number = Gauge(
            "covertype_champion_batch_number",
            "Number of that batch (within its group)",
            ["version", "group"],
            registry=self.registry,
        )
        self.batch_drift = Gauge(
            "covertype_champion_batch_drift_score",
            "Drift score of that batch: the largest PSI against the version's training data among the "
            "features whose difference is beyond chance (0 when none is); no series without a verdict",
            ["version"],
            registry=self.registry,
        )
        self.batch_drifted_features = Gauge(
            "covertype_champion_batch_drifted_features",
            "Features of that batch that drifted: beyond chance, PSI above COVERTYPE_DRIFT_THRESHOLD",
            ["version"],
            registry=self.registry,
        )
        self.log_written = Counter(
            "covertype_prediction_log_written", "Predictions written to the store", registry=self.registry
        )
        self.log_dropped = Counter(
            "covertype_prediction_log_dropped",
            "Predictions not logged because the writer's queue was full",
            registry=self.registry,
        )
        self.log_failed = Counter(
            "covertype_prediction_log_failed",
            "Predictions the store refused or could not be reached for",
            registry=self.registry,
        )

    def count_predictions(self, counts: Mapping[int, int]) -> None:
        """Add ``counts`` (records by predicted cover type) to ``covertype_predictions_total``.

        Each class's series is looked up once and kept (this counter is never cleared): ``labels()`` checks
        its values and takes a lock on every call, five times the cost of the increment (measured).
        """
        for cover_type, count in counts.items():
            series = self._predicted.get(cover_type)
            if series is None:
                series = self._predicted[cover_type] = self.predictions.labels(cover_type=str(cover_type))
            series.inc(count)

    def serving(self, name: str, version: str, alias: str, holdout_accuracy: float | None) -> None:
        """Mark ``version`` as the one served (and no other), with its holdout accuracy when known."""
        self.model_info.clear()
        self.model_info.labels(name=name, version=version, alias=alias).set(1)
        self.holdout_accuracy.clear()
        if holdout_accuracy is not None:
            self.holdout_accuracy.labels(version=version).set(holdout_accuracy)

    def champion_batch(self, version: str, quality: BatchQuality | None) -> None:
        """Show ``quality``, the served ``version``'s latest batch, and no other; no series when None (and
        no drift series without a drift verdict: too few rows, no reference profile)."""
        gauges = (self.batch_accuracy, self.batch_number, self.batch_drift, self.batch_drifted_features)
        for gauge in gauges:
            gauge.clear()
        if quality is None:
            return
        self.batch_accuracy.labels(version=version).set(quality.accuracy)
        self.batch_number.labels(version=version, group=str(quality.group_number)).set(quality.batch_number)
        if quality.drift_score is not None:
            self.batch_drift.labels(version=version).set(quality.drift_score)
            self.batch_drifted_features.labels(version=version).set(len(quality.drifted_features))
