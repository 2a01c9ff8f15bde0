"""How long the served graph takes in ONNX Runtime: single records and a 1,000-row batch.

Measured on the session the inference API would build (its intra-op threads), so the promotion gate
judges what is served, not the scikit-learn pipeline. The batch figure is the minimum of several rounds'
medians: a busy machine slows a round, never speeds one up, so the minimum is the figure least disturbed
by other work, and a good model is not refused because training ran beside the measurement.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Final

import numpy as np
import onnxruntime as ort

#: Single-row calls timed for the p50 and p99 figures.
SINGLE_CALLS: Final = 200
#: Rows of the timed batch (the batch size the gate and the docs speak of).
BATCH_ROWS: Final = 1_000
#: Rounds of batch calls; the reported figure is the lowest round median.
BATCH_ROUNDS: Final = 5
#: Batch calls per round.
CALLS_PER_ROUND: Final = 5


@dataclass(frozen=True)
class GraphLatency:
    """Milliseconds in ONNX Runtime: single-row median and 99th percentile, 1,000-row batch median."""

    single_p50_ms: float
    single_p99_ms: float
    batch_ms: float


def measure_latency(session: ort.InferenceSession, inputs: dict[str, np.ndarray]) -> GraphLatency:
    """Time ``session`` on rows of ``inputs`` (graph inputs, one column array per name, at least one row).

    The batch repeats the given rows in order up to :data:`BATCH_ROWS`, so a small holdout still gives
    a batch of the documented size with the values the model really sees.
    """
    rows = len(next(iter(inputs.values())))
    if rows == 0:
        raise ValueError("latency needs at least one row")
    first = {name: column[:1] for name, column in inputs.items()}
    picks = np.arange(BATCH_ROWS) % rows
    batch = {name: column[picks] for name, column in inputs.items()}
    session.run(None, first)  # warm-up: the first call allocates
    single = _timings(session, first, SINGLE_CALLS)
    session.run(None, batch)
    rounds = [statistics.median(_timings(session, batch, CALLS_PER_ROUND)) for _ in range(BATCH_ROUNDS)]
    cuts = statistics.quantiles(single, n=100, method="inclusive")
    return GraphLatency(single_p50_ms=statistics.median(single), single_p99_ms=cuts[98], batch_ms=min(rounds))


def _timings(session: ort.InferenceSession, inputs: dict[str, np.ndarray], calls: int) -> list[float]:
    """Milliseconds of ``calls`` consecutive runs."""
    timings = []
    for _ in range(calls):
        started = time.perf_counter()
        session.run(None, inputs)
        timings.append((time.perf_counter() - started) * 1000)
    return timings
