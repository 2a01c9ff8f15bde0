"""The batch jobs' outcomes pushed to the Prometheus Pushgateway, for the alerts on ingestion and training.

Prometheus documents the Pushgateway for service-level batch jobs: a job pushes when it ends, the
gateway keeps the last value, Prometheus scrapes the gateway (``honor_labels: true``). Each push here is a
``pushadd`` (only the pushed metric names of the job's group are replaced), with a short timeout, and
never fails the task: an unreachable gateway is a warning in the log. ``COVERTYPE_PUSHGATEWAY_URL``
empty or unset turns pushing off.

Ingestion (job ``covertype_ingest``, grouping key ``group``), after a poll that stored new rows:
``covertype_ingest_last_stored_timestamp_seconds``, ``covertype_ingest_batch_interval_seconds`` (so the
alert needs no interval of its own) and ``covertype_ingest_all_batches_delivered`` 0; after a poll that
learnt that all batches were delivered, that gauge at 1 (the alert on a silent ingestion then stays quiet).

Training (job ``covertype_train``): ``covertype_training_last_success_timestamp_seconds`` when a training
ends, ``covertype_training_last_failure_timestamp_seconds`` when one of its tasks fails for good.
"""

from __future__ import annotations

import logging

from prometheus_client import CollectorRegistry, Gauge, pushadd_to_gateway

from covertype.settings import Settings

logger = logging.getLogger(__name__)

#: Seconds a push may take before it is given up (a warning, the task goes on).
PUSH_TIMEOUT_SECONDS = 5.0
INGEST_JOB = "covertype_ingest"
TRAIN_JOB = "covertype_train"


def push_batch_stored(settings: Settings, group: int) -> None:
    """A batch of ``group`` was stored now."""
    registry = CollectorRegistry()
    stored = _gauge(
        registry, "covertype_ingest_last_stored_timestamp_seconds", "When ingestion last stored new rows"
    )
    stored.set_to_current_time()
    _gauge(registry, "covertype_ingest_batch_interval_seconds", "COVERTYPE_BATCH_INTERVAL").set(
        settings.batch_interval
    )
    _delivered_gauge(registry).set(0)
    _push(settings, INGEST_JOB, registry, {"group": str(group)})


def push_all_batches_delivered(settings: Settings, group: int) -> None:
    """The data API has no batch left for ``group`` (until it is restarted)."""
    registry = CollectorRegistry()
    _delivered_gauge(registry).set(1)
    _push(settings, INGEST_JOB, registry, {"group": str(group)})


def push_training_outcome(settings: Settings, *, succeeded: bool) -> None:
    """A training ended now, or one of its tasks failed for good."""
    registry = CollectorRegistry()
    outcome = "success" if succeeded else "failure"
    ended = _gauge(
        registry,
        f"covertype_training_last_{outcome}_timestamp_seconds",
        f"When a training last ended in {outcome}",
    )
    ended.set_to_current_time()
    _push(settings, TRAIN_JOB, registry, {})


def _gauge(registry: CollectorRegistry, name: str, documentation: str) -> Gauge:
    return Gauge(name, documentation, registry=registry)


def _delivered_gauge(registry: CollectorRegistry) -> Gauge:
    return _gauge(
        registry,
        "covertype_ingest_all_batches_delivered",
        "1 once the data API answered that all batches of the group were delivered, 0 after a stored batch",
    )


def _push(settings: Settings, job: str, registry: CollectorRegistry, grouping_key: dict[str, str]) -> None:
    if not settings.pushgateway_url:
        return
    try:
        pushadd_to_gateway(
            settings.pushgateway_url,
            job=job,
            registry=registry,
            grouping_key=grouping_key,
            timeout=PUSH_TIMEOUT_SECONDS,
        )
    except Exception as exc:  # noqa: BLE001 - a metric must never fail the batch job that reports it
        logger.warning("could not push %s metrics to %s: %s", job, settings.pushgateway_url, exc)
