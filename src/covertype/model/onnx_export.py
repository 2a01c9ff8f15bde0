"""One ONNX graph per fitted candidate pipeline, and the check that it predicts what the pipeline does.

The graph takes the 12 raw feature columns (:mod:`covertype.model.graph_inputs`) and gives the label and
the class probabilities. It is built in two parts: skl2onnx converts the pipeline after its first step
(encoding and model), and :func:`_terrain_nodes` prepends :class:`~covertype.model.features.TerrainFeatures`
as the same float64 arithmetic. The model's input type follows what scikit-learn compares in its trees:
forests cast their input to float32 themselves, so the graph does too; HistGradientBoosting, LightGBM
and linear models compare float64, so their graph keeps float64 features and double thresholds
(float32 thresholds flip rows that sit one ULP from a split, up to 0.18 in probability).

A graph can load, run and be wrong (skl2onnx ignores native categorical splits without a word), so
:func:`export_and_check` runs it in ONNX Runtime against the pipeline on the holdout before anyone may
serve it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Final

import numpy as np
import onnx
import pandas as pd
from lightgbm import LGBMClassifier
from onnx import TensorProto, helper, numpy_helper
from onnxmltools.convert.lightgbm.operator_converters.LightGbm import convert_lightgbm
from skl2onnx import convert_sklearn, update_registered_converter
from skl2onnx.common._registration import get_shape_calculator
from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType, StringTensorType
from skl2onnx.common.shape_calculator import calculate_linear_classifier_output_shapes
from skl2onnx.operator_converters.random_forest import convert_sklearn_random_forest_classifier
from sklearn.ensemble import ExtraTreesClassifier, HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from covertype.model.features import (
    ASPECT_COS,
    ASPECT_SIN,
    ENGINEERED_COLUMNS,
    HYDROLOGY_RUN_WEIGHT,
    SOIL_ZONES,
    UNKNOWN_ZONE,
    TerrainFeatures,
)
from covertype.model.graph_inputs import (
    CLASSES_METADATA,
    LABEL_OUTPUT,
    PROBABILITIES_OUTPUT,
    columns_to_inputs,
)
from covertype.model.graph_latency import GraphLatency, measure_latency
from covertype.model.runtime import inference_session
from covertype.schema import CATEGORICAL_COLUMNS, FEATURE_COLUMNS, NUMERIC_COLUMNS

#: Share of holdout rows on which graph and pipeline must predict the same class.
MIN_LABEL_AGREEMENT: Final = 0.999
#: Largest difference of a class probability allowed between graph and pipeline (rows of agreeing labels).
MAX_PROBABILITY_DIFF: Final = 1e-4
_OPSET: Final = {"": 17, "ai.onnx.ml": 3}
_ML_DOMAIN: Final = "ai.onnx.ml"
_LABEL_ENCODER_ML_OPSET: Final = 2
_FLOAT32_MODELS = (RandomForestClassifier, ExtraTreesClassifier)


class _DoubleTreeContainer:
    """Passes everything to skl2onnx's container, but writes a tree op's float64 arrays as ``*_as_tensor``."""

    _DOUBLE_ATTRIBUTES = ("nodes_values", "nodes_hitrates", "class_weights", "base_values")

    def __init__(self, container: Any) -> None:
        self._container = container

    def __getattr__(self, name: str) -> Any:
        return getattr(self._container, name)

    def add_node(self, op_type: str, *args: Any, **attributes: Any) -> Any:
        if op_type == "TreeEnsembleClassifier":
            for key in self._DOUBLE_ATTRIBUTES:
                value = attributes.get(key)
                # skl2onnx gives float64 arrays for float64 input, onnxmltools (LightGBM) lists of floats.
                if isinstance(value, list) or (isinstance(value, np.ndarray) and value.dtype == np.float64):
                    del attributes[key]
                    attributes[f"{key}_as_tensor"] = numpy_helper.from_array(np.asarray(value, np.float64))
        return self._container.add_node(op_type, *args, **attributes)


def _convert_hgb_double(scope: Any, operator: Any, container: Any) -> None:
    """HistGradientBoosting with the ``ai.onnx.ml`` v3 tree op and float64 thresholds and leaf values.

    skl2onnx registers its tree converter at op version 1 (float32 attributes): a float64 value one ULP
    above a threshold then goes the wrong way. Called at version 3 with float64 input it keeps float64
    arrays, which :class:`_DoubleTreeContainer` writes as the op's double tensor attributes.
    """
    convert_sklearn_random_forest_classifier(scope, operator, _DoubleTreeContainer(container), op_version=3)


def _register_double_threshold_trees() -> None:
    alias = "SklearnHistGradientBoostingClassifier"
    update_registered_converter(
        HistGradientBoostingClassifier,
        alias,
        get_shape_calculator(alias),
        _convert_hgb_double,
        options={"zipmap": [True, False, "columns"], "raw_scores": [True, False], "nocl": [True, False]},
        overwrite=True,
    )


def _convert_lightgbm_double(scope: Any, operator: Any, container: Any) -> None:
    """LightGBM through onnxmltools' converter, with float64 thresholds and leaf values.

    LightGBM compares float64 features with float64 thresholds; with onnxmltools' float32 attributes the
    graph chose the same class on every holdout row but moved probabilities by up to 0.06 (rows one float32
    step from a split take the other branch of some of the hundreds of trees).
    """
    convert_lightgbm(scope, operator, _DoubleTreeContainer(container))


def _register_lightgbm() -> None:
    """LightGBM as skl2onnx documents it for models of other libraries (onnxmltools' converter)."""
    update_registered_converter(
        LGBMClassifier,
        "LightGbmLGBMClassifier",
        calculate_linear_classifier_output_shapes,
        _convert_lightgbm_double,
        options={"nocl": [True, False], "zipmap": [True, False, "columns"]},
    )


_register_double_threshold_trees()
_register_lightgbm()


class ExportError(ValueError):
    """The pipeline has a part the export does not cover (the message names it)."""


@dataclass(frozen=True)
class ExportCheck:
    """What the faithfulness check measured; ``faithful`` decides whether the graph may be served.

    The figures are None when no graph could be built; ``latency`` is timed on the session the inference
    API would build (:mod:`covertype.model.graph_latency`).
    """

    faithful: bool
    reason: str
    size_bytes: int | None = None
    label_agreement: float | None = None
    max_probability_diff: float | None = None
    latency: GraphLatency | None = None

    def metrics(self) -> dict[str, float]:
        """The measured figures as MLflow metrics of the candidate's run."""
        figures: dict[str, float | None] = {
            "onnx_size_bytes": self.size_bytes,
            "onnx_label_agreement": self.label_agreement,
            "onnx_max_probability_diff": self.max_probability_diff,
        }
        if self.latency is not None:
            figures |= {f"onnx_{name}": value for name, value in asdict(self.latency).items()}
        return {key: float(value) for key, value in figures.items() if value is not None}

    def to_dict(self) -> dict[str, Any]:
        """Small and JSON-safe (an XCom): the verdict, its reason and the figures."""
        return {"onnx_faithful": self.faithful, "onnx_reason": self.reason, **self.metrics()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExportCheck:
        """The inverse of :meth:`to_dict` (which leaves out the figures it could not measure)."""
        size = data.get("onnx_size_bytes")
        names = [field.name for field in fields(GraphLatency)]
        timed = all(f"onnx_{name}" in data for name in names)
        latency = GraphLatency(**{name: float(data[f"onnx_{name}"]) for name in names}) if timed else None
        return cls(
            faithful=bool(data["onnx_faithful"]),
            reason=data["onnx_reason"],
            size_bytes=None if size is None else int(size),
            label_agreement=data.get("onnx_label_agreement"),
            max_probability_diff=data.get("onnx_max_probability_diff"),
            latency=latency,
        )


def export_pipeline(pipeline: Pipeline) -> bytes:
    """A fitted candidate pipeline as one ONNX graph: raw columns in, label and probabilities out."""
    steps = getattr(pipeline, "steps", None)
    if not steps or len(steps) < 2 or not isinstance(steps[0][1], TerrainFeatures):
        raise ExportError("only pipelines that start with TerrainFeatures followed by a model are exported")
    model = steps[-1][1]
    if getattr(model, "is_categorical_", None) is not None and np.any(model.is_categorical_):
        raise ExportError(
            "HistGradientBoosting with native categorical_features: skl2onnx ignores categorical splits"
        )
    float32 = isinstance(model, _FLOAT32_MODELS)
    tensor_type = FloatTensorType if float32 else DoubleTensorType
    numeric = list(NUMERIC_COLUMNS) + list(ENGINEERED_COLUMNS)
    columns = list(FEATURE_COLUMNS) + list(ENGINEERED_COLUMNS)  # TerrainFeatures' output order
    initial_types = [
        (name, StringTensorType([None, 1]) if name in CATEGORICAL_COLUMNS else tensor_type([None, 1]))
        for name in columns
    ]
    tail = convert_sklearn(
        pipeline[1:],
        initial_types=initial_types,
        # float64 arithmetic for the scaler too (its default Scaler op computes in float32).
        options={id(model): {"zipmap": False}, StandardScaler: {"div": "div"}},
        target_opset=dict(_OPSET),
    )
    graph = _prepend_terrain_features(tail, numeric, TensorProto.FLOAT if float32 else TensorProto.DOUBLE)
    helper.set_model_props(graph, {CLASSES_METADATA: ",".join(str(int(c)) for c in pipeline.classes_)})
    onnx.checker.check_model(graph)
    serialized: bytes = graph.SerializeToString()
    return serialized


def _feature_name(column: str) -> str:
    return f"features/{column}"


def _prepend_terrain_features(tail: onnx.ModelProto, numeric: list[str], dtype: int) -> onnx.ModelProto:
    """``tail`` fed by the raw columns: its numeric inputs become the outputs of the terrain nodes."""
    renamed = {name: _feature_name(name) for name in numeric}
    for node in tail.graph.node:
        for position, name in enumerate(node.input):
            if name in renamed:
                node.input[position] = renamed[name]
    nodes, constants = _terrain_nodes(dtype)
    inputs = [
        helper.make_tensor_value_info(
            name, TensorProto.STRING if name in CATEGORICAL_COLUMNS else TensorProto.INT64, [None, 1]
        )
        for name in FEATURE_COLUMNS
    ]
    names = [output.name for output in tail.graph.output]
    if names != [LABEL_OUTPUT, PROBABILITIES_OUTPUT]:
        raise ExportError(f"converted model has outputs {names}, not {LABEL_OUTPUT}, {PROBABILITIES_OUTPUT}")
    # Output types come from ONNX's own inference where it has one (skl2onnx declares float probabilities
    # even where a float64 model computes them in float64); tree ops have none, their declaration is right.
    untyped = [helper.make_empty_tensor_value_info(name) for name in names]
    graph = helper.make_graph(
        [*nodes, *tail.graph.node],
        "covertype",
        inputs,
        untyped,
        initializer=[*constants, *tail.graph.initializer],
    )
    versions = {entry.domain: entry.version for entry in tail.opset_import}
    # The soil-zone LabelEncoder takes string keys from ai.onnx.ml v2 on; skl2onnx may declare v1.
    versions[_ML_DOMAIN] = max(versions.get(_ML_DOMAIN, 0), _LABEL_ENCODER_ML_OPSET)
    opsets = [helper.make_opsetid(domain, version) for domain, version in versions.items()]
    model = helper.make_model(graph, opset_imports=opsets, producer_name="covertype")
    model.ir_version = tail.ir_version
    typed = onnx.shape_inference.infer_shapes(model).graph
    inferred = {value.name: value.type.tensor_type.elem_type for value in [*typed.value_info, *typed.output]}
    model.graph.ClearField("output")
    for declared in tail.graph.output:
        output = model.graph.output.add()
        output.CopyFrom(declared)
        if inferred.get(declared.name, TensorProto.UNDEFINED) != TensorProto.UNDEFINED:
            output.type.tensor_type.elem_type = inferred[declared.name]
    return model


def _terrain_nodes(dtype: int) -> tuple[list[onnx.NodeProto], list[onnx.TensorProto]]:
    """:class:`TerrainFeatures` as ONNX nodes, in float64 like numpy, each result cast to ``dtype``."""
    nodes: list[onnx.NodeProto] = []
    constants = [
        numpy_helper.from_array(np.array(HYDROLOGY_RUN_WEIGHT, dtype=np.float64), "terrain/run_weight"),
        numpy_helper.from_array(np.array(3.0, dtype=np.float64), "terrain/three"),
        numpy_helper.from_array(np.array(360, dtype=np.int64), "terrain/full_turn"),
        numpy_helper.from_array(ASPECT_SIN, "terrain/aspect_sin"),
        numpy_helper.from_array(ASPECT_COS, "terrain/aspect_cos"),
    ]

    def op(kind: str, inputs: list[str], output: str, **attributes: Any) -> str:
        nodes.append(helper.make_node(kind, inputs, [output], **attributes))
        return output

    raw = {c: op("Cast", [c], f"terrain/{c}", to=TensorProto.DOUBLE) for c in NUMERIC_COLUMNS}
    hydro, vertical = raw["Horizontal_Distance_To_Hydrology"], raw["Vertical_Distance_To_Hydrology"]
    fire, roads = raw["Horizontal_Distance_To_Fire_Points"], raw["Horizontal_Distance_To_Roadways"]
    elevation = raw["Elevation"]
    squares = op(
        "Add",
        [op("Mul", [hydro, hydro], "terrain/h2"), op("Mul", [vertical, vertical], "terrain/v2")],
        "terrain/h2v2",
    )
    degree = op("Mod", ["Aspect", "terrain/full_turn"], "terrain/degree", fmod=0)
    shade = op("Add", [raw["Hillshade_9am"], raw["Hillshade_Noon"]], "terrain/shade2")
    shade = op("Add", [shade, raw["Hillshade_3pm"]], "terrain/shade3")
    engineered = {
        "Distance_To_Hydrology": ("Sqrt", [squares]),
        "Elevation_Above_Water": ("Sub", [elevation, vertical]),
        "Elevation_Minus_Hydrology_Run": (
            "Sub",
            [elevation, op("Mul", [hydro, "terrain/run_weight"], "terrain/run")],
        ),
        "Hydrology_Plus_Fire": ("Add", [hydro, fire]),
        "Hydrology_Minus_Fire": ("Sub", [hydro, fire]),
        "Hydrology_Plus_Roadways": ("Add", [hydro, roads]),
        "Hydrology_Minus_Roadways": ("Sub", [hydro, roads]),
        "Fire_Plus_Roadways": ("Add", [fire, roads]),
        "Fire_Minus_Roadways": ("Sub", [fire, roads]),
        "Aspect_Sin": ("Gather", ["terrain/aspect_sin", degree]),
        "Aspect_Cos": ("Gather", ["terrain/aspect_cos", degree]),
        "Hillshade_Mean": ("Div", [shade, "terrain/three"]),
    }
    # Whole numbers, exact in int64 and in the final cast.
    soil_zones = {
        name: op(
            "LabelEncoder",
            ["Soil_Type"],
            f"terrain/{name}",
            domain=_ML_DOMAIN,
            keys_strings=list(zones),
            values_int64s=list(zones.values()),
            default_int64=UNKNOWN_ZONE,
        )
        for name, zones in SOIL_ZONES.items()
    }
    if [*engineered, *soil_zones] != list(ENGINEERED_COLUMNS):
        raise ExportError("the ONNX terrain features do not match ENGINEERED_COLUMNS")
    values = dict(raw)
    for name, (kind, inputs) in engineered.items():
        values[name] = op(kind, inputs, f"terrain/{name}")
    values.update(soil_zones)
    for name, value in values.items():
        op("Cast", [value], _feature_name(name), to=dtype)
    return nodes, constants


def check_export(pipeline: Pipeline, graph: bytes, holdout: pd.DataFrame, *, threads: int = 1) -> ExportCheck:
    """Run ``graph`` against ``pipeline`` on the holdout: labels, probabilities, size, and the latency on
    ``threads`` intra-op threads (the inference API's ``COVERTYPE_ONNX_THREADS``)."""
    features = holdout[list(FEATURE_COLUMNS)]
    session = inference_session(graph, threads=threads)
    inputs = columns_to_inputs({name: features[name].tolist() for name in FEATURE_COLUMNS})
    labels, probabilities = session.run([LABEL_OUTPUT, PROBABILITIES_OUTPUT], inputs)
    expected_labels = np.asarray(pipeline.predict(features))
    expected = np.asarray(pipeline.predict_proba(features))
    same = labels.ravel() == expected_labels
    agreement = float(same.mean()) if len(same) else 1.0
    diff = float(np.abs(probabilities[same] - expected[same]).max()) if same.any() else 0.0
    problems = []
    if agreement < MIN_LABEL_AGREEMENT:
        problems.append(f"label agreement {agreement:.4%} < {MIN_LABEL_AGREEMENT:.1%}")
    if diff > MAX_PROBABILITY_DIFF:
        problems.append(f"probabilities differ by up to {diff:.2e} > {MAX_PROBABILITY_DIFF:.0e}")
    reason = "; ".join(problems) or (
        f"same class on {agreement:.2%} of {len(same)} holdout rows, probabilities within {diff:.1e}"
    )
    return ExportCheck(
        faithful=not problems,
        reason=reason,
        size_bytes=len(graph),
        label_agreement=agreement,
        max_probability_diff=diff,
        latency=measure_latency(session, inputs) if len(features) else None,
    )


def export_and_check(
    pipeline: Pipeline, holdout: pd.DataFrame, *, threads: int = 1
) -> tuple[bytes | None, ExportCheck]:
    """:func:`export_pipeline` then :func:`check_export`; a graph that cannot be built is unfaithful."""
    try:
        graph = export_pipeline(pipeline)
    except Exception as exc:  # noqa: BLE001 - any converter failure makes the candidate ineligible, not the run
        reason = f"cannot export to ONNX: {type(exc).__name__}: {exc}"[:500]
        return None, ExportCheck(False, reason)
    return graph, check_export(pipeline, graph, holdout, threads=threads)
