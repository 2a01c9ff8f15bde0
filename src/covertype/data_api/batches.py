"""Which rows a group receives: one seeded shuffle, equal slices per batch, a seeded sample per poll.

Everything here is a pure function of the settings and the dataset, so every worker process (and every
restart) computes the same slices and the same sample for a ``(group, batch)`` pair.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

_SEED_MODULUS = 2**64  # numpy seed sequences take non-negative integers; any settings seed maps into range


@dataclass(frozen=True)
class BatchPlan:
    """The shuffled dataset cut into ``batches`` slices; the last slice takes the rest of the rows."""

    n_rows: int
    batches: int
    sample_fraction: float
    seed: int

    def __post_init__(self) -> None:
        if self.batches < 1:
            raise ValueError(f"batches must be at least 1, got {self.batches}")
        if not 0 < self.sample_fraction <= 1:
            raise ValueError(f"sample_fraction must be in (0, 1], got {self.sample_fraction}")
        if self.sample_size(1) < 1:
            raise ValueError(
                f"{self.n_rows} rows in {self.batches} batches at sample fraction {self.sample_fraction} "
                "leave a poll with no rows; use fewer batches or a larger fraction"
            )

    @property
    def slice_size(self) -> int:
        """Rows of every slice but the last (which also takes the remainder)."""
        return self.n_rows // self.batches

    def shuffle(self) -> np.ndarray:
        """Row positions of the dataset in served order: a permutation fixed by the seed."""
        return np.random.default_rng(self.seed % _SEED_MODULUS).permutation(self.n_rows)

    def slice_bounds(self, batch_number: int) -> tuple[int, int]:
        """``[start, stop)`` of a batch's slice in the shuffled order; batches count from 1."""
        if not 1 <= batch_number <= self.batches:
            raise ValueError(f"batch_number {batch_number} is outside 1..{self.batches}")
        start = (batch_number - 1) * self.slice_size
        stop = self.n_rows if batch_number == self.batches else start + self.slice_size
        return start, stop

    def sample_size(self, batch_number: int) -> int:
        """``floor(slice rows * sample_fraction)``, robust to float noise such as ``0.29 * 100``."""
        start, stop = self.slice_bounds(batch_number)
        return math.floor((stop - start) * self.sample_fraction + 1e-9)

    def sample(self, group_number: int, batch_number: int) -> np.ndarray:
        """Sorted positions (in shuffled order) of a group's rows for a batch; the same on every call."""
        start, stop = self.slice_bounds(batch_number)
        rng = np.random.default_rng((self.seed % _SEED_MODULUS, group_number, batch_number))
        chosen = rng.choice(stop - start, size=self.sample_size(batch_number), replace=False)
        return start + np.sort(chosen)
