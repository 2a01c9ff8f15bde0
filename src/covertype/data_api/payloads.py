"""The JSON bodies of ``GET /data``, built from columnar arrays and cached per ``(group, batch)``.

A window's body never changes (the sample is seeded), so each worker encodes it once with orjson and
then serves the same bytes to every poll of that window.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import orjson
import pandas as pd

from covertype.data_api.batches import BatchPlan
from covertype.schema import COLUMNS, NUMERIC_COLUMNS, TARGET_COLUMN

_COLUMNS = list(COLUMNS)


class BatchPayloads:
    """The dataset in served (shuffled) order, kept as numpy arrays, and the encoded bodies."""

    def __init__(self, frame: pd.DataFrame, plan: BatchPlan, *, cache_size: int = 64) -> None:
        if len(frame) != plan.n_rows:
            raise ValueError(f"the plan is for {plan.n_rows} rows, the frame has {len(frame)}")
        order = plan.shuffle()
        self._plan = plan
        self._numeric = frame[list(NUMERIC_COLUMNS)].to_numpy(dtype=np.int32)[order]
        self._wilderness = _categories(frame["Wilderness_Area"], order)
        self._soil = _categories(frame["Soil_Type"], order)
        self._target = frame[TARGET_COLUMN].to_numpy(dtype=np.int8)[order]
        self.body = lru_cache(maxsize=cache_size)(self._encode)

    def rows(self, group_number: int, batch_number: int) -> list[list[int | str]]:
        """The sampled rows of a window, each in canonical column order."""
        positions = self._plan.sample(group_number, batch_number)
        wilderness_names, wilderness_codes = self._wilderness
        soil_names, soil_codes = self._soil
        return [
            [*numbers, wilderness, soil, target]
            for numbers, wilderness, soil, target in zip(
                self._numeric[positions].tolist(),
                wilderness_names[wilderness_codes[positions]].tolist(),
                soil_names[soil_codes[positions]].tolist(),
                self._target[positions].tolist(),
                strict=True,
            )
        ]

    def _encode(self, group_number: int, batch_number: int) -> bytes:
        return orjson.dumps(
            {
                "group_number": group_number,
                "batch_number": batch_number,
                "columns": _COLUMNS,
                "data": self.rows(group_number, batch_number),
            }
        )


def _categories(values: pd.Series, order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A string column as (distinct names, small integer codes in served order)."""
    codes, names = pd.factorize(values)
    return np.asarray(names, dtype=object), codes[order]
