"""Helpers of the retraining tests: a champion made by the pipeline, then batches that really shift.

The champion is trained by ``run_training`` (logreg, half a second of search) on the first rows of the
shuffled shared sample; later batches are other rows of the sample, stored as ingestion stores them and
scored by the real :func:`covertype.monitoring.evaluation.evaluate_batch`.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from covertype.dataset import load_dataset
from covertype.monitoring.evaluation import evaluate_batch
from covertype.schema import TARGET_COLUMN
from covertype.settings import Settings
from covertype.store.quality import BatchQuality
from support.inference import train_version
from support.training import fill_store

#: Rows the champion is trained on; the batches come from the rows after them.
CHAMPION_ROWS = 3_000
#: New rows that call for training on their own in these tests (batches of 500 rows do not).
MIN_NEW_ROWS = 1_000


def shuffled_sample(sample_csv: Path) -> pd.DataFrame:
    return load_dataset(sample_csv).sample(frac=1.0, random_state=3).reset_index(drop=True)


def train_champion(settings: Settings, sample: pd.DataFrame) -> str:
    """Version 1, champion, trained (``force``) on the first :data:`CHAMPION_ROWS` rows; its version."""
    trained = train_version(settings, sample.head(CHAMPION_ROWS), candidates="logreg")
    assert trained["promotion"]["promoted"], trained
    return str(trained["registered"]["version"])


def later_rows(sample: pd.DataFrame, start: int, count: int) -> pd.DataFrame:
    """``count`` rows the champion never saw, from the ``start``-th row after its training rows."""
    return sample.iloc[CHAMPION_ROWS + start : CHAMPION_ROWS + start + count]


def elevation_shifted(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows 300 m higher up: Elevation drifts (PSI far above 0.2), the labels are the true ones."""
    return rows.assign(Elevation=rows["Elevation"] + 300)


def relabelled(rows: pd.DataFrame, share: float = 0.4) -> pd.DataFrame:
    """The rows with the label of the first ``share`` of them moved to the next class (1-7): the features
    do not move, the champion's accuracy does (concept drift)."""
    labels = rows[TARGET_COLUMN].to_numpy().copy()
    count = int(len(labels) * share)
    labels[:count] = labels[:count] % 7 + 1
    return rows.assign(**{TARGET_COLUMN: labels})


def store_and_evaluate(settings: Settings, rows: pd.DataFrame, batch_number: int) -> BatchQuality:
    """Store ``rows`` as group 1's batch ``batch_number`` and have the champion score them."""
    fill_store(settings.database, rows, batch_number=batch_number)
    result = evaluate_batch(settings, 1, batch_number)
    assert result.status == "evaluated" and result.quality is not None, result
    return result.quality
