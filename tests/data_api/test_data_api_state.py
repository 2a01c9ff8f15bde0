"""The group schedule in its SQLite file: windows, advancing, the end, and agreement between writers."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from threading import Barrier

import pytest

from covertype.data_api.state import AllBatchesDelivered, GroupSchedule, Progress, Window
from support.data_api import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start=0.0)


def test_the_first_poll_starts_batch_1_and_the_window_holds(tmp_path: Path, clock: FakeClock) -> None:
    schedule = GroupSchedule(tmp_path / "s.sqlite", batches=3, interval=10, clock=clock)

    assert schedule.poll(1) == Window(1, 0.0)
    clock.advance(9.9)
    assert schedule.poll(1) == Window(1, 0.0)
    clock.advance(0.1)
    assert schedule.poll(1) == Window(2, 10.0)


def test_the_end_is_reached_after_the_last_window(tmp_path: Path, clock: FakeClock) -> None:
    schedule = GroupSchedule(tmp_path / "s.sqlite", batches=2, interval=10, clock=clock)
    schedule.poll(1)
    clock.advance(10)
    schedule.poll(1)
    clock.advance(10)

    with pytest.raises(AllBatchesDelivered, match="group 1: all 2 batches were delivered"):
        schedule.poll(1)


def test_a_state_left_by_more_batches_counts_as_finished(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "s.sqlite"
    longer = GroupSchedule(path, batches=5, interval=0, clock=clock)
    for _ in range(4):
        longer.poll(1)

    with pytest.raises(AllBatchesDelivered):
        GroupSchedule(path, batches=3, interval=100, clock=clock).poll(1)


def test_progress_reads_without_polling_and_ends_when_polls_do(tmp_path: Path, clock: FakeClock) -> None:
    schedule = GroupSchedule(tmp_path / "s.sqlite", batches=2, interval=10, clock=clock)
    assert schedule.progress(1) == Progress(window=None, next_batch_at=None, finished=False)
    schedule.poll(1)
    assert schedule.progress(1) == Progress(window=Window(1, 0.0), next_batch_at=10.0, finished=False)
    clock.advance(10)
    assert schedule.progress(1).window == Window(1, 0.0), "reading moved the group on"

    schedule.poll(1)
    clock.advance(9.9)
    assert schedule.progress(1) == Progress(window=Window(2, 10.0), next_batch_at=None, finished=False)
    clock.advance(0.1)
    assert schedule.progress(1).finished
    with pytest.raises(AllBatchesDelivered):
        schedule.poll(1)


def test_progress_of_a_state_left_by_more_batches_is_finished(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "s.sqlite"
    longer = GroupSchedule(path, batches=5, interval=0, clock=clock)
    for _ in range(4):
        longer.poll(1)

    assert GroupSchedule(path, batches=3, interval=100, clock=clock).progress(1).finished


def test_restart_forgets_only_that_group(tmp_path: Path, clock: FakeClock) -> None:
    schedule = GroupSchedule(tmp_path / "s.sqlite", batches=3, interval=0, clock=clock)
    schedule.poll(1)
    schedule.poll(1)
    schedule.poll(2)

    schedule.restart(1)

    assert schedule.poll(1).batch_number == 1
    assert schedule.poll(2).batch_number == 2


def test_concurrent_pollers_with_their_own_connections_agree(tmp_path: Path, clock: FakeClock) -> None:
    """Sixteen schedules (as in sixteen workers) poll the same group at the same due instant."""
    path = tmp_path / "s.sqlite"
    GroupSchedule(path, batches=5, interval=10, clock=clock).poll(1)
    schedules = [GroupSchedule(path, batches=5, interval=10, clock=clock) for _ in range(16)]
    barrier = Barrier(len(schedules))
    clock.advance(10)

    def poll(schedule: GroupSchedule) -> Window:
        barrier.wait()
        return schedule.poll(1)

    with ThreadPoolExecutor(len(schedules)) as pool:
        windows = set(pool.map(poll, schedules))

    assert windows == {Window(2, 10.0)}


@pytest.mark.parametrize("real_clock", [False, True], ids=["fake-clock", "wall-clock"])
def test_each_due_poll_advances_exactly_once_under_contention(
    tmp_path: Path, clock: FakeClock, real_clock: bool
) -> None:
    """With interval 0 every poll is due: a lost update or a stale clock would repeat a batch number."""
    path = tmp_path / "s.sqlite"
    schedules = [
        GroupSchedule(path, batches=40, interval=0, clock=time.time if real_clock else clock)
        for _ in range(8)
    ]

    def poll_many(schedule: GroupSchedule) -> list[int]:
        numbers = []
        for _ in range(10):
            try:
                numbers.append(schedule.poll(1).batch_number)
            except AllBatchesDelivered:
                numbers.append(0)
        return numbers

    with ThreadPoolExecutor(len(schedules)) as pool:
        numbers = [n for batch in pool.map(poll_many, schedules) for n in batch]

    assert sorted(n for n in numbers if n) == list(range(1, 41))
    assert numbers.count(0) == 40
