"""``batch_quality``: how the champion did on each stored batch, and the rows of a batch it is scored on."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime
from enum import StrEnum

import pandas as pd
from sqlalchemy import Connection, Engine, RowMapping, insert, select

from covertype.schema import COLUMNS
from covertype.store.dialects import ignore_duplicates
from covertype.store.tables import batch_quality, forest_cover_data

#: Fewest rows in a batch, and in the version's training data, for a drift verdict (fewer:
#: ``not_enough_rows``): with 10 bins per feature, fewer rows leave the tests' expected counts too small.
DRIFT_MIN_ROWS = 100


class DriftStatus(StrEnum):
    """The drift verdict on a batch, stored in ``batch_quality.drift_status``.

    Only ``drifted`` and ``stable`` are verdicts (``drift_score`` set); the others say why there is none:
    too few rows in the batch or in the version's training data, a version without a reference profile, or a
    row measured before the size-aware test (its PSI kept, its old fixed-threshold verdict dropped by the
    migration ``0003_drift_verdict``).
    """

    DRIFTED = "drifted"
    STABLE = "stable"
    NOT_ENOUGH_ROWS = "not_enough_rows"
    NO_PROFILE = "no_profile"
    UNJUDGED = "unjudged"

    @property
    def judged(self) -> bool:
        return self in (DriftStatus.DRIFTED, DriftStatus.STABLE)


#: Why a row without a profile problem has no drift verdict, in a table cell's few words.
NO_VERDICT_SHORT = {DriftStatus.NOT_ENOUGH_ROWS: "too few rows", DriftStatus.UNJUDGED: "unjudged"}
#: Why a row has no drift verdict, in words.
NO_VERDICT = {
    DriftStatus.NOT_ENOUGH_ROWS: f"not enough rows to judge drift (under {DRIFT_MIN_ROWS})",
    DriftStatus.NO_PROFILE: "drift unavailable (no reference profile)",
    DriftStatus.UNJUDGED: "drift not judged (measured before the size-aware test)",
}


@dataclass(frozen=True)
class BatchQuality:
    """One ``batch_quality`` row: the champion ``model_version`` scored on one stored batch.

    ``drift_score`` (the largest PSI among the features whose difference is beyond chance) is None unless
    ``drift_status`` is a verdict; ``feature_psi`` is empty when the version has no reference profile.
    """

    group_number: int
    batch_number: int
    model_version: str
    rows: int
    accuracy: float
    macro_f1: float
    drift_score: float | None
    drift_status: DriftStatus
    drifted_features: list[str]
    class_recall: dict[str, float]
    feature_psi: dict[str, float]
    evaluated_at: datetime

    def drift_summary(self) -> str:
        """The drift verdict in words: the score and the drifted features, or why there is no verdict."""
        if self.drift_score is None or not self.drift_status.judged:
            return NO_VERDICT[self.drift_status]
        return f"drift {self.drift_score:.3f}, drifted: {', '.join(self.drifted_features) or 'none'}"

    def to_dict(self) -> dict[str, object]:
        """JSON-ready: ``evaluated_at`` as ISO text."""
        return asdict(self) | {"evaluated_at": self.evaluated_at.isoformat()}


def read_batch_rows(connection: Connection, *, group_number: int, batch_number: int) -> pd.DataFrame:
    """The canonical columns of the rows first stored with this group's batch (in storage order)."""
    query = (
        select(*(forest_cover_data.c[name] for name in COLUMNS))
        .where(
            forest_cover_data.c.group_number == group_number,
            forest_cover_data.c.batch_number == batch_number,
        )
        .order_by(forest_cover_data.c.id)
    )
    return pd.DataFrame(connection.execute(query).all(), columns=list(COLUMNS))


def record_batch_quality(engine: Engine, quality: BatchQuality) -> bool:
    """Store ``quality`` unless its (group, batch, version) row exists; True when it was new.

    A row already stored is left as it is, so re-running an evaluation changes nothing.
    """
    with engine.begin() as connection:
        statement = insert(batch_quality).prefix_with(ignore_duplicates(connection.dialect))
        result = connection.execute(
            statement,
            {
                **asdict(quality),
                "drifted_features": json.dumps(quality.drifted_features),
                "class_recall": json.dumps(quality.class_recall, sort_keys=True),
                "feature_psi": json.dumps(quality.feature_psi, sort_keys=True),
            },
        )
    return result.rowcount == 1


def batch_quality_rows(engine: Engine, *, group_number: int | None = None) -> list[BatchQuality]:
    """Every stored row (of one group if given), by group, batch and version."""
    query = select(batch_quality).order_by(
        batch_quality.c.group_number, batch_quality.c.batch_number, batch_quality.c.id
    )
    if group_number is not None:
        query = query.where(batch_quality.c.group_number == group_number)
    with engine.connect() as connection:
        return [_from_row(row) for row in connection.execute(query).mappings()]


def stored_batch_quality(
    engine: Engine, *, group_number: int, batch_number: int, model_version: str
) -> BatchQuality | None:
    """The row of this group, batch and version, None when the batch was not evaluated with it yet."""
    query = select(batch_quality).where(
        batch_quality.c.group_number == group_number,
        batch_quality.c.batch_number == batch_number,
        batch_quality.c.model_version == model_version,
    )
    with engine.connect() as connection:
        row = connection.execute(query).mappings().first()
    return None if row is None else _from_row(row)


def latest_batch_quality(engine: Engine, *, model_version: str) -> BatchQuality | None:
    """The row of the batch ``model_version`` was evaluated on last, None when it was never evaluated."""
    query = (
        select(batch_quality)
        .where(batch_quality.c.model_version == model_version)
        .order_by(batch_quality.c.id.desc())
        .limit(1)
    )
    with engine.connect() as connection:
        row = connection.execute(query).mappings().first()
    return None if row is None else _from_row(row)


def _from_row(row: RowMapping) -> BatchQuality:
    values = dict(row)
    return BatchQuality(
        group_number=int(values["group_number"]),
        batch_number=int(values["batch_number"]),
        model_version=str(values["model_version"]),
        rows=int(values["rows"]),
        accuracy=float(values["accuracy"]),
        macro_f1=float(values["macro_f1"]),
        drift_score=None if values["drift_score"] is None else float(values["drift_score"]),
        drift_status=DriftStatus(values["drift_status"]),
        drifted_features=json.loads(values["drifted_features"]),
        class_recall=json.loads(values["class_recall"]),
        feature_psi=json.loads(values["feature_psi"]),
        evaluated_at=values["evaluated_at"],
    )
