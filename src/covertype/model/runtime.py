"""Running an exported graph with ONNX Runtime: the session options and class probabilities for records.

Needs only onnxruntime and numpy: the inference API serves through it, the export check measures with it.
Options (measured in ``benchmarks/bench_inference.py``): one intra-op thread per session by default, since
each service worker answers one model call at a time and a second thread on a busy two-core machine waits
more than it helps; sequential execution, as the graph is a single chain; every graph optimisation.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import onnxruntime as ort

from covertype.model.graph_inputs import (
    CLASSES_METADATA,
    PROBABILITIES_OUTPUT,
    Columns,
    Row,
    feature_inputs,
    rows_to_inputs,
)

_OPTIMISATION = {
    "disabled": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
    "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
    "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
}


def inference_session(graph: bytes, *, threads: int = 1, optimisation: str = "all") -> ort.InferenceSession:
    """A CPU session on ``graph`` with ``threads`` intra-op threads and the named graph optimisation level."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = _OPTIMISATION[optimisation]
    return ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])


class GraphPredictor:
    """Class probabilities of records from one exported graph; ``classes`` label the columns."""

    def __init__(self, graph: bytes, *, threads: int = 1, optimisation: str = "all") -> None:
        self._session = inference_session(graph, threads=threads, optimisation=optimisation)
        listed = self._session.get_modelmeta().custom_metadata_map.get(CLASSES_METADATA)
        if not listed:
            raise ValueError(f"the ONNX graph lacks the {CLASSES_METADATA!r} metadata listing its classes")
        self.classes = np.asarray([int(label) for label in listed.split(",")])

    def predict_proba(self, rows: Sequence[Row]) -> np.ndarray:
        """Probabilities of shape ``(len(rows), len(classes))`` as float64."""
        return self.predict_proba_inputs(rows_to_inputs(rows))

    def predict_proba_columns(self, columns: Columns) -> np.ndarray:
        """:meth:`predict_proba` of records held column by column (one sequence per feature, in order)."""
        return self.predict_proba_inputs(feature_inputs(columns))

    def predict_proba_inputs(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        """:meth:`predict_proba` of the graph's inputs as :mod:`covertype.model.graph_inputs` makes them."""
        (probabilities,) = self._session.run([PROBABILITIES_OUTPUT], inputs)
        return np.asarray(probabilities, dtype=np.float64)
