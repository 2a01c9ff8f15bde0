"""Tags on a registered version that describe its ONNX graph (writer: training; reader: serving)."""

from __future__ import annotations

from typing import Final

#: Path, inside the version's run, of the ONNX graph of the whole pipeline.
ONNX_ARTIFACT_TAG: Final = "covertype.onnx_artifact"
#: Where training puts the graph inside the candidate's run.
ONNX_ARTIFACT_PATH: Final = "onnx/model.onnx"
#: Size of the graph in bytes (the size gate reads it).
ONNX_SIZE_TAG: Final = "covertype.onnx_size_bytes"
#: Share of holdout rows where the graph and the scikit-learn pipeline predict the same class.
ONNX_AGREEMENT_TAG: Final = "covertype.onnx_label_agreement"
#: Largest absolute difference of any class probability between the graph and the pipeline on the holdout.
ONNX_MAX_DIFF_TAG: Final = "covertype.onnx_max_probability_diff"
#: Median single-row latency of the graph in ONNX Runtime (one thread), milliseconds.
ONNX_LATENCY_TAG: Final = "covertype.onnx_latency_ms"
#: ``true`` when the graph passed the faithfulness check, else ``false`` (and the reason tag says why).
ONNX_FAITHFUL_TAG: Final = "covertype.onnx_faithful"
ONNX_REASON_TAG: Final = "covertype.onnx_reason"
