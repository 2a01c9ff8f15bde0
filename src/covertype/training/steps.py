"""What the training steps hand each other: one frozen dataclass per step's result.

``covertype train`` passes these objects from step to step in one process; the ``covertype_train`` DAG
passes them between tasks as XComs, through :meth:`to_dict` (JSON types only) and :meth:`from_dict`.
Airflow 3 could serialize dataclasses itself, but it refuses to deserialize any class outside
``[core] allowed_deserialization_classes`` (``airflow.*`` by default) and rebuilds nested dataclasses as
plain dicts; plain JSON needs no deployment setting and reads the same in the Airflow UI.

The dicts keep the keys ``covertype train`` has always printed in its JSON summary.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from covertype.model.onnx_export import ExportCheck
from covertype.training.snapshot import SnapshotInfo
from covertype.training.tracking import RunContext

#: ``status`` of a :class:`CandidateResult`: searched on the sample, refit on all rows (exported), failed.
SEARCHED, TRAINED, FAILED = "searched", "trained", "failed"


@dataclass(frozen=True)
class TrainingDecision:
    """Whether to train now, why, and which candidates (validated names).

    ``signal`` is what decided (a constant of :mod:`covertype.monitoring.retrain`), ``reason`` says it with
    the signal's numbers.
    """

    train: bool
    signal: str
    reason: str
    rows: int
    last_trained_rows: int | None
    new_rows: int
    candidates: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "train": self.train,
            "signal": self.signal,
            "reason": self.reason,
            "rows": self.rows,
            "last_trained_rows": self.last_trained_rows,
            "new_rows": self.new_rows,
            "candidates": list(self.candidates),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainingDecision:
        return cls(**{**data, "candidates": tuple(data["candidates"])})


@dataclass(frozen=True)
class PreparedTraining:
    """The snapshot a training reads, its open MLflow parent run, who asked for it and why.

    ``signal`` and ``reason`` are the :class:`TrainingDecision`'s, for the version the training registers.
    """

    snapshot: SnapshotInfo
    parent_run_id: str
    context: RunContext
    signal: str
    reason: str
    #: The candidates of this training: they share its search budget equally.
    candidates: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.snapshot.to_dict(),
            "parent_run_id": self.parent_run_id,
            "dag_id": self.context.dag_id,
            "dag_run_id": self.context.dag_run_id,
            "training_signal": self.signal,
            "training_reason": self.reason,
            "candidates": list(self.candidates),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PreparedTraining:
        return cls(
            snapshot=SnapshotInfo.from_dict(data),
            parent_run_id=data["parent_run_id"],
            context=RunContext(data["dag_id"], data["dag_run_id"]),
            signal=data["training_signal"],
            reason=data["training_reason"],
            candidates=tuple(data["candidates"]),
        )


@dataclass(frozen=True)
class CandidateResult:
    """One candidate's outcome: its nested MLflow run, what its search chose, and, once refit, its model,
    holdout scores and ONNX check.

    ``status`` is :data:`SEARCHED` after the search (``params``, ``validation_accuracy``,
    ``search_seconds``), :data:`TRAINED` once refit on every row (``model_uri``, the holdout scores,
    ``training_seconds`` of the refit, ``export``), :data:`FAILED` with ``error`` when it could not train.
    ``evaluation_model`` is the run's artifact path of the model the holdout scores are of, when the
    model at ``model_uri`` was then refit on the holdout rows too (None: that model is the one scored).
    """

    name: str
    status: str
    run_id: str
    error: str | None = None
    params: dict[str, Any] | None = None
    validation_accuracy: float | None = None
    search_seconds: float | None = None
    model_uri: str | None = None
    holdout_accuracy: float | None = None
    holdout_macro_f1: float | None = None
    training_seconds: float | None = None
    export: ExportCheck | None = None
    evaluation_model: str | None = None

    @property
    def trained(self) -> bool:
        return self.status == TRAINED

    @property
    def failed(self) -> bool:
        return self.status == FAILED

    def to_dict(self) -> dict[str, Any]:
        values: dict[str, Any] = {"name": self.name, "status": self.status, "run_id": self.run_id}
        if self.failed:
            return values | {"error": self.error}
        values |= {
            "params": self.params,
            "validation_accuracy": self.validation_accuracy,
            "search_seconds": self.search_seconds,
        }
        if not self.trained:
            return values
        return values | {
            "model_uri": self.model_uri,
            "holdout_accuracy": self.holdout_accuracy,
            "holdout_macro_f1": self.holdout_macro_f1,
            "training_seconds": self.training_seconds,
            "evaluation_model": self.evaluation_model,
            **(self.export.to_dict() if self.export else {}),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CandidateResult:
        fields = ("name", "status", "run_id", "error", "model_uri", "params", "evaluation_model")
        scores = (
            "validation_accuracy",
            "search_seconds",
            "holdout_accuracy",
            "holdout_macro_f1",
            "training_seconds",
        )
        values: dict[str, Any] = {key: data[key] for key in fields if key in data}
        values |= {key: float(data[key]) for key in scores if data.get(key) is not None}
        return cls(**values, export=ExportCheck.from_dict(data) if "onnx_faithful" in data else None)


@dataclass(frozen=True)
class Registered:
    """The new model version made of the best servable candidate, and the candidates that failed."""

    version: str
    run_id: str
    candidate: str
    holdout_accuracy: float
    failed_candidates: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "run_id": self.run_id,
            "candidate": self.candidate,
            "holdout_accuracy": self.holdout_accuracy,
            "failed_candidates": list(self.failed_candidates),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Registered:
        return cls(
            version=str(data["version"]),
            run_id=data["run_id"],
            candidate=data["candidate"],
            holdout_accuracy=float(data["holdout_accuracy"]),
            failed_candidates=tuple(data.get("failed_candidates", ())),
        )


@dataclass(frozen=True)
class PromotionOutcome:
    """Which alias the new version got (None: none), why, and both scores on the same holdout."""

    version: str
    alias: str | None
    promoted: bool
    reason: str
    challenger_accuracy: float
    champion_accuracy: float | None
    champion_version: str | None
    #: ``promoted``, ``rejected`` or ``superseded`` (:data:`covertype.registry.tags.TRAINING_DECISIONS`).
    decision: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PromotionOutcome:
        return cls(**data)
