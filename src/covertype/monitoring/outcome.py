"""What an evaluation of a stored batch did, shared by the cheap way in
(:mod:`covertype.monitoring.batch_evaluation`) and the evaluation itself
(:mod:`covertype.monitoring.evaluation`), so that neither imports the other back. Imports no MLflow.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from covertype.settings import Settings

if TYPE_CHECKING:
    from covertype.store.quality import BatchQuality

log = logging.getLogger(__name__)


class EvaluationFailed(RuntimeError):
    """The registry, the champion's artifacts or the store could not be read or written."""


@dataclass(frozen=True)
class BatchEvaluation:
    """What an evaluation did: ``evaluated``, ``unchanged`` (stored before) or ``skipped``."""

    status: str
    detail: str
    quality: BatchQuality | None = None

    def to_dict(self) -> dict[str, object]:
        return {"status": self.status, "detail": self.detail} | (
            self.quality.to_dict() if self.quality else {}
        )


def skipped(reason: str) -> BatchEvaluation:
    """Nothing evaluated nor recorded, for ``reason`` (logged)."""
    log.info("batch evaluation skipped: %s", reason)
    return BatchEvaluation("skipped", reason)


def no_champion(settings: Settings) -> BatchEvaluation:
    return skipped(f"no champion ({settings.model_name}@{settings.model_alias}) to evaluate yet")
