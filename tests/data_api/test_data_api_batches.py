"""The batch plan: a seeded shuffle, slices that tile the dataset, seeded samples inside each slice."""

from __future__ import annotations

import numpy as np
import pytest

from covertype.data_api.batches import BatchPlan


@pytest.mark.parametrize(
    ("n_rows", "batches"), [(15_000, 10), (15_000, 7), (581_012, 10), (11, 10), (10, 10)]
)
def test_slices_tile_the_dataset_and_the_last_takes_the_rest(n_rows: int, batches: int) -> None:
    plan = BatchPlan(n_rows=n_rows, batches=batches, sample_fraction=1.0, seed=1)

    bounds = [plan.slice_bounds(b) for b in range(1, batches + 1)]

    assert bounds[0][0] == 0 and bounds[-1][1] == n_rows
    assert all(stop == next_start for (_, stop), (next_start, _) in zip(bounds, bounds[1:], strict=False))
    assert {stop - start for start, stop in bounds[:-1]} <= {n_rows // batches}
    assert bounds[-1][1] - bounds[-1][0] == n_rows - (batches - 1) * (n_rows // batches)


@pytest.mark.parametrize("batch_number", [0, 11, -1])
def test_a_batch_outside_the_plan_is_refused(batch_number: int) -> None:
    plan = BatchPlan(n_rows=100, batches=10, sample_fraction=0.5, seed=1)

    with pytest.raises(ValueError, match=f"batch_number {batch_number} is outside 1..10"):
        plan.slice_bounds(batch_number)


def test_the_shuffle_is_a_permutation_fixed_by_the_seed() -> None:
    plan = BatchPlan(n_rows=1000, batches=10, sample_fraction=0.1, seed=42)

    order = plan.shuffle()

    assert sorted(order.tolist()) == list(range(1000))
    assert np.array_equal(order, BatchPlan(1000, 10, 0.1, 42).shuffle())
    assert not np.array_equal(order, BatchPlan(1000, 10, 0.1, 43).shuffle())


def test_samples_are_seeded_by_group_and_batch_and_stay_in_their_slice() -> None:
    plan = BatchPlan(n_rows=581_012, batches=10, sample_fraction=0.1, seed=42)

    sample = plan.sample(3, 10)

    start, stop = plan.slice_bounds(10)
    assert len(sample) == len(np.unique(sample)) == 5810  # floor(58,103 * 0.1)
    assert sample.min() >= start and sample.max() < stop
    assert np.array_equal(sample, plan.sample(3, 10))
    assert not np.array_equal(sample, plan.sample(4, 10))


def test_the_sample_size_floors_without_float_noise() -> None:
    assert BatchPlan(n_rows=100, batches=1, sample_fraction=0.29, seed=0).sample_size(1) == 29
    assert BatchPlan(n_rows=1099, batches=1, sample_fraction=0.1, seed=0).sample_size(1) == 109


def test_a_negative_seed_is_accepted() -> None:
    assert len(BatchPlan(n_rows=100, batches=2, sample_fraction=0.5, seed=-5).sample(1, 1)) == 25


def test_a_plan_whose_polls_would_be_empty_is_refused() -> None:
    with pytest.raises(ValueError, match="leave a poll with no rows"):
        BatchPlan(n_rows=9, batches=10, sample_fraction=1.0, seed=0)
