"""MLflow logging: one parent run per training, one nested run per candidate.

Every candidate's run holds its search (parameters, validation accuracy, trials); the run of the candidate
refit on every row also holds its holdout scores and two forms of its model: the scikit-learn flavor
(for ``mlflow models serve``, pyfunc users and the champion comparison) and, when the export passed its
faithfulness check, the ONNX graph at :data:`~covertype.registry.tags.ONNX_ARTIFACT_PATH`, which the
inference API serves without unpickling anything. The check's verdict is on the run either way (tags
``covertype.onnx_faithful`` and ``covertype.onnx_reason``).

Models are logged with ``serialization_format="cloudpickle"``. MLflow 3's default for scikit-learn is
skops, which refuses on load any type not explicitly trusted (every tree ensemble and our
``TerrainFeatures`` step), so ``models:/covertype@champion`` would not load without passing
``skops_trusted_types`` everywhere. Cloudpickle loads anything, so only load models from this trusted
registry; unpickling needs scikit-learn and the ``covertype`` package (for ``TerrainFeatures``).

Runs are created and closed through the :class:`~covertype.registry.core.Registry` (its client has
explicit URIs). Only a candidate's run is logged with MLflow's fluent API (``mlflow.start_run``,
``mlflow.sklearn.log_model``: MLflow 3 logs a model as a *logged model* only through it), which knows no
other tracking URI than the process-wide one: :func:`log_search` and :func:`log_refit` set it while they
log and restore it after, and are the only code that sets it.
"""

from __future__ import annotations

import logging
import os
import subprocess
import tempfile
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.data.dataset_source_registry import resolve_dataset_source
from mlflow.data.meta_dataset import MetaDataset
from mlflow.entities import DatasetInput, InputTag
from mlflow.models import infer_signature

from covertype.model.onnx_export import ExportCheck
from covertype.pause_points import CANDIDATE_LOGGING, pause_point
from covertype.registry.core import Registry
from covertype.registry.runs import PARENT_RUN_TAG
from covertype.registry.tags import (
    CANDIDATE_TAG,
    EVALUATION_MODEL_PATH,
    ONNX_ARTIFACT_PATH,
    ONNX_FAITHFUL_TAG,
    ONNX_REASON_TAG,
    SNAPSHOT_DIGEST_TAG,
)
from covertype.schema import FEATURE_COLUMNS, NUMERIC_COLUMNS
from covertype.training.candidates import Refit, SearchResult
from covertype.training.evaluation import Evaluation, model_card, save_confusion_matrix
from covertype.training.snapshot import SnapshotInfo

#: Artifact path of the model inside a candidate run.
MODEL_ARTIFACT = "model"
#: Run tag: why the run ended badly (a candidate that could not train or was abandoned, a failed training).
ERROR_TAG = "covertype.error"
#: The longest text a tag of a run or a version gets here (an error, a reason).
TAG_TEXT_LIMIT = 5000
_DATASET_NAME = "forest_cover_snapshot"

log = logging.getLogger(__name__)


def tag_text(text: str) -> str:
    """``text`` cut to :data:`TAG_TEXT_LIMIT` characters, to be written as a tag."""
    return text[:TAG_TEXT_LIMIT]


@dataclass(frozen=True)
class LoggedCandidate:
    """A candidate's nested run and the model logged in it."""

    run_id: str
    model_uri: str


@dataclass(frozen=True)
class RunContext:
    """Who asked for this training: the DAG and its run (or the CLI), and the code's commit."""

    dag_id: str
    dag_run_id: str

    def tags(self) -> dict[str, str]:
        return {
            "covertype.dag_id": self.dag_id,
            "covertype.dag_run_id": self.dag_run_id,
            "covertype.git_commit": git_commit(),
        }


def git_commit() -> str:
    """The commit of the checkout this package runs from, or ``unknown`` (e.g. in an image without .git)."""
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return result.stdout.strip() if result.returncode == 0 else "unknown"


def start_parent_run(
    registry: Registry,
    *,
    snapshot: SnapshotInfo,
    context: RunContext,
    train_rows: int,
    holdout_rows: int,
    tags: dict[str, str],
    params: Mapping[str, object],
) -> str:
    """Open (status RUNNING) the training's parent run with ``tags`` and ``params``; ``registry.runs.finish``
    closes it."""
    runs = registry.runs
    run_id = runs.create(
        runs.ensure_experiment(),
        name=f"training {snapshot.rows} rows",
        tags={
            **context.tags(),
            **_data_tags(snapshot, train_rows, holdout_rows),
            "covertype.kind": "training",
            **tags,
        },
    )
    dataset = _dataset(snapshot)._to_mlflow_entity()  # what mlflow.log_input does, without a fluent run
    runs.log_inputs(run_id, [DatasetInput(dataset, tags=[InputTag("mlflow.data.context", "training")])])
    runs.log_params(run_id, params)
    return run_id


def log_search(
    registry: Registry,
    *,
    parent_run_id: str,
    context: RunContext,
    snapshot: SnapshotInfo,
    result: SearchResult,
    params: Mapping[str, object],
    train_rows: int,
    holdout_rows: int,
) -> str:
    """Log one candidate's search (its ``params``, scores and trials) as a run nested in ``parent_run_id``;
    returns the run's id. :func:`log_refit` adds the model to the winner's run.

    The fluent API used here logs to the process-wide tracking URI, so it is the registry's one while this
    runs (and what it was before afterwards: a later client in the same process must not inherit it).
    """
    with _process_tracking_uri(registry.tracking_uri):
        experiment_id = registry.runs.ensure_experiment()
        tags = {
            **context.tags(),
            **_data_tags(snapshot, train_rows, holdout_rows),
            CANDIDATE_TAG: result.name,
            "covertype.kind": "candidate",
        }
        with mlflow.start_run(
            experiment_id=experiment_id, parent_run_id=parent_run_id, run_name=result.name, tags=tags
        ) as run:
            pause_point(CANDIDATE_LOGGING)
            mlflow.log_params(dict(params))
            mlflow.log_metrics(search_metrics(result))
            log_search_trials(result)
            mlflow.log_input(_dataset(snapshot), context="training")
        return str(run.info.run_id)


def search_metrics(result: SearchResult) -> dict[str, float]:
    return {
        "validation_accuracy": result.validation_accuracy,
        "search_trials": float(result.trials),
        "search_pruned_trials": float(result.pruned_trials),
        "search_seconds": result.search_seconds,
        "search_rows": float(result.search_rows),
    }


def log_refit(
    registry: Registry,
    *,
    run_id: str,
    name: str,
    params: dict[str, Any],
    refit: Refit,
    evaluation_fit: Refit | None,
    validation_accuracy: float,
    evaluation: Evaluation,
    model_size_bytes: int,
    export: ExportCheck,
    graph: bytes | None,
    snapshot: SnapshotInfo,
    train: pd.DataFrame,
    holdout_rows: int,
) -> LoggedCandidate:
    """Add the candidate refit on all rows to its search's run ``run_id``: the model, its holdout scores,
    the ONNX graph (only when ``export`` found it faithful), the model card, the confusion matrix.

    ``evaluation_fit`` is the same candidate fitted on ``train`` alone when ``refit`` (the model logged for
    registration) was fitted on the holdout rows too; it is saved at
    :data:`~covertype.registry.tags.EVALUATION_MODEL_PATH`, and the holdout scores are its.

    A retried refit logs into the same run again; the model it logs last is the one registered.
    """
    with _process_tracking_uri(registry.tracking_uri):
        metrics = {
            **evaluation.metrics,
            "model_size_bytes": float(model_size_bytes),
            **export.metrics(),
            "training_seconds": refit.seconds,
            "refit_threads": float(refit.threads),
            "served_model_rows": float(len(train) + (holdout_rows if evaluation_fit else 0)),
        }
        if evaluation_fit is not None:
            metrics["evaluation_fit_seconds"] = evaluation_fit.seconds
        with mlflow.start_run(run_id=run_id):
            mlflow.set_tags({ONNX_FAITHFUL_TAG: str(export.faithful).lower(), ONNX_REASON_TAG: export.reason})
            mlflow.log_metrics(metrics)
            example = _model_input(train.head(5))
            signature = infer_signature(example, refit.model.predict(example))
            info = mlflow.sklearn.log_model(
                refit.model,
                name=MODEL_ARTIFACT,
                serialization_format="cloudpickle",
                signature=signature,
                input_example=example,
                pip_requirements=_pip_requirements(),
            )
            card = model_card(
                candidate=name,
                params=params,
                metrics={"validation_accuracy": validation_accuracy, **metrics},
                snapshot=snapshot.to_dict(),
                train_rows=len(train),
                holdout_rows=holdout_rows,
                holdout_refit=evaluation_fit is not None,
            )
            mlflow.log_text(card, "model_card.md")
            mlflow.log_text(evaluation.report, "classification_report.txt")
            with tempfile.TemporaryDirectory() as folder:
                image = save_confusion_matrix(
                    evaluation.confusion,
                    Path(folder) / "confusion_matrix.png",
                    title=f"{name} on the holdout",
                )
                mlflow.log_artifact(str(image))
                if evaluation_fit is not None:
                    saved = Path(folder) / EVALUATION_MODEL_PATH
                    mlflow.sklearn.save_model(
                        evaluation_fit.model, str(saved), serialization_format="cloudpickle"
                    )
                    mlflow.log_artifacts(str(saved), EVALUATION_MODEL_PATH)
                if graph is not None and export.faithful:
                    onnx_file = Path(folder) / Path(ONNX_ARTIFACT_PATH).name
                    onnx_file.write_bytes(graph)
                    mlflow.log_artifact(str(onnx_file), str(Path(ONNX_ARTIFACT_PATH).parent))
        return LoggedCandidate(run_id=run_id, model_uri=info.model_uri)


@contextmanager
def _process_tracking_uri(uri: str) -> Iterator[None]:
    """MLflow's process-wide tracking URI (and ``MLFLOW_TRACKING_URI``) set to ``uri`` for a while."""
    previous = os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(previous)  # type: ignore[arg-type]  # None: back to MLflow's default


#: Artifact of a candidate run listing every trial of its search (state, accuracy, seconds, parameters).
SEARCH_TRIALS_ARTIFACT = "search_trials.csv"


def log_search_trials(result: SearchResult) -> None:
    """Each trial's accuracy and numeric parameters as ``trial_*`` metrics (step = trial number), and the
    whole table (categorical parameters and states too) as :data:`SEARCH_TRIALS_ARTIFACT`."""
    table = result.trial_table
    if table is None or table.empty:
        return
    for row in table.to_dict("records"):
        values = {key: row[key] for key in table.columns if key not in ("trial", "state")}
        numeric = {
            f"trial_{key}": float(value)
            for key, value in values.items()
            if isinstance(value, int | float) and not isinstance(value, bool)
        }
        mlflow.log_metrics(numeric, step=int(row["trial"]))
    mlflow.log_text(table.to_csv(index=False), SEARCH_TRIALS_ARTIFACT)


def log_failed_candidate(
    registry: Registry,
    *,
    parent_run_id: str,
    context: RunContext,
    snapshot: SnapshotInfo,
    name: str,
    error: str,
    params: Mapping[str, object],
    train_rows: int,
    holdout_rows: int,
) -> str:
    """Record a candidate that could not train (and its ``params``) as a nested run closed ``FAILED``;
    returns its run id."""
    runs = registry.runs
    run_id = runs.create(
        runs.ensure_experiment(),
        name=name,
        tags={
            **context.tags(),
            **_data_tags(snapshot, train_rows, holdout_rows),
            PARENT_RUN_TAG: parent_run_id,
            CANDIDATE_TAG: name,
            "covertype.kind": "candidate",
            ERROR_TAG: tag_text(error),
        },
    )
    runs.log_params(run_id, params)
    runs.finish(run_id, status="FAILED")
    return run_id


def close_abandoned_candidates(
    registry: Registry, parent_run_id: str, *, name: str | None = None, reason: str
) -> list[str]:
    """Close ``KILLED``, tagged :data:`ERROR_TAG` = ``reason``, every run nested in ``parent_run_id`` that is
    still ``RUNNING`` (only candidate ``name``'s when given); the ids of the runs closed.

    A candidate's task killed while it logged (:func:`log_search`) leaves its nested run ``RUNNING``:
    nothing else would ever close it. Runs that ended (``FINISHED``, ``FAILED``) are left as they are.
    """
    running = registry.runs.running_children(parent_run_id)
    closed = [run.info.run_id for run in running if name is None or run.data.tags.get(CANDIDATE_TAG) == name]
    for run_id in closed:
        registry.runs.finish(run_id, tags={ERROR_TAG: tag_text(reason)}, status="KILLED")
        log.warning(
            "closed the abandoned candidate run %s of training run %s: %s", run_id, parent_run_id, reason
        )
    return closed


def _model_input(frame: pd.DataFrame) -> pd.DataFrame:
    """The 12 feature columns as the inference API sends them (64-bit integers, plain strings)."""
    features = frame[list(FEATURE_COLUMNS)].reset_index(drop=True)
    return features.astype(
        {name: "int64" for name in NUMERIC_COLUMNS} | {"Wilderness_Area": object, "Soil_Type": object}
    )


def _pip_requirements() -> list[str]:
    """Pinned here so MLflow need not re-import the model in a subprocess to guess them.

    ``covertype`` itself (for ``TerrainFeatures``) is not on PyPI: whoever loads the model installs it.
    """
    from importlib.metadata import version

    return [f"{name}=={version(name)}" for name in ("scikit-learn", "cloudpickle", "pandas", "numpy")]


def _data_tags(snapshot: SnapshotInfo, train_rows: int, holdout_rows: int) -> dict[str, str]:
    return {
        "covertype.snapshot_uri": snapshot.uri,
        SNAPSHOT_DIGEST_TAG: snapshot.digest,
        "covertype.rows": str(snapshot.rows),
        "covertype.train_rows": str(train_rows),
        "covertype.holdout_rows": str(holdout_rows),
    }


def _dataset(snapshot: SnapshotInfo) -> MetaDataset:
    location = snapshot.uri if "://" in snapshot.uri else Path(snapshot.uri).as_uri()
    with warnings.catch_warnings():
        # MLflow 3.17 registers its local-file source twice and warns that the path is ambiguous.
        warnings.filterwarnings("ignore", message="The specified dataset source can be interpreted")
        source = resolve_dataset_source(location)
    return MetaDataset(  # type: ignore[abstract]  # MLflow's concrete class; its stub marks profile abstract
        source=source, name=_DATASET_NAME, digest=snapshot.digest[:32]
    )
