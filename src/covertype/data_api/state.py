"""Each group's current batch, kept in a SQLite file shared by every worker process.

A poll that may move a group on runs inside ``BEGIN IMMEDIATE`` (SQLite's write lock), re-reading the
row under the lock before deciding, so two workers polled at the same instant never hand out different
batches. Polls inside an open window only read (WAL mode lets readers run beside a writer).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS group_windows (
    group_number INTEGER PRIMARY KEY,
    batch_number INTEGER NOT NULL,
    started_at   REAL    NOT NULL
)
"""
_LOCK_TIMEOUT_SECONDS = 30.0

#: Seconds now (wall time in service, so windows survive restarts; a fake in tests).
Clock = Callable[[], float]


@dataclass(frozen=True)
class Window:
    """A group's current batch and when (clock seconds) it began."""

    batch_number: int
    started_at: float
    #: This poll opened the window (not part of equality: the same window read later compares equal).
    opened: bool = field(default=False, compare=False)


@dataclass(frozen=True)
class Progress:
    """Where a group stands, read without polling: its window, when a poll moves it on, whether it ended."""

    window: Window | None
    #: Clock seconds from which a poll moves the group on; None before its first poll and in its last batch.
    next_batch_at: float | None
    #: The last batch's window has passed: polls raise :class:`AllBatchesDelivered` until a restart.
    finished: bool


class AllBatchesDelivered(Exception):
    """The group's last batch window has passed; only a restart gives it data again."""

    def __init__(self, group_number: int, batches: int) -> None:
        super().__init__(
            f"group {group_number}: all {batches} batches were delivered; "
            f"GET /restart_data_generation?group_number={group_number} starts again at batch 1"
        )


class ScheduleUnavailable(OSError):
    """The schedule's SQLite file cannot be opened or set up (a startup error, like a missing dataset)."""


class GroupSchedule:
    """The batch schedule of every group: advance after ``interval`` seconds, stop after ``batches``.

    Thread-safe (one SQLite connection per thread) and process-safe (SQLite locking). The clock is read
    again once the write lock is held, so the decisions of all processes follow one timeline.
    """

    def __init__(self, path: Path, *, batches: int, interval: float, clock: Clock) -> None:
        self._path = path
        self._batches = batches
        self._interval = interval
        self._clock = clock
        self._local = threading.local()
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            connection = self._connection()
            connection.execute("PRAGMA journal_mode=WAL")
            with self._write_lock() as conn:
                conn.execute(_SCHEMA)
        except sqlite3.Error as exc:
            raise ScheduleUnavailable(f"the batch schedule {path} cannot be used: {exc}") from exc

    def poll(self, group_number: int) -> Window:
        """The group's window now, starting or advancing the group when it is due.

        Raises :class:`AllBatchesDelivered` once the last batch's window has passed.
        """
        window = self._read(self._connection(), group_number)
        # The clock is read after the row, never before: a stale ``now`` earlier than a window another
        # worker just began would wrongly find that window not due and hand its batch out twice.
        now = self._clock()
        if window is not None and not self._is_due(window, now):
            return window
        if window is not None and window.batch_number >= self._batches:
            raise AllBatchesDelivered(group_number, self._batches)
        with self._write_lock() as conn:
            window = self._read(conn, group_number)  # another worker may have moved it meanwhile
            now = self._clock()
            if window is None:
                window = Window(1, now, opened=True)
            elif not self._is_due(window, now):
                return window
            elif window.batch_number >= self._batches:
                raise AllBatchesDelivered(group_number, self._batches)
            else:
                window = Window(window.batch_number + 1, now, opened=True)
            conn.execute(
                "INSERT INTO group_windows (group_number, batch_number, started_at) VALUES (?, ?, ?) "
                "ON CONFLICT (group_number) DO UPDATE "
                "SET batch_number = excluded.batch_number, started_at = excluded.started_at",
                (group_number, window.batch_number, window.started_at),
            )
            return window

    def restart(self, group_number: int) -> None:
        """Forget the group's progress: its next poll starts batch 1."""
        with self._write_lock() as conn:
            conn.execute("DELETE FROM group_windows WHERE group_number = ?", (group_number,))

    def peek(self, group_number: int) -> Window | None:
        """The group's stored window, read only (no poll): None when the group never polled."""
        return self._read(self._connection(), group_number)

    def progress(self, group_number: int) -> Progress:
        """The group's window, its next opening and whether it ended, by the rules :meth:`poll` follows."""
        window = self.peek(group_number)
        if window is None:
            return Progress(window=None, next_batch_at=None, finished=False)
        last = window.batch_number >= self._batches
        return Progress(
            window=window,
            next_batch_at=None if last else window.started_at + self._interval,
            finished=last and self._is_due(window, self._clock()),
        )

    def _is_due(self, window: Window, now: float) -> bool:
        # A window stored under a larger COVERTYPE_BATCHES than today's counts as finished.
        return now - window.started_at >= self._interval or window.batch_number > self._batches

    @staticmethod
    def _read(conn: sqlite3.Connection, group_number: int) -> Window | None:
        row = conn.execute(
            "SELECT batch_number, started_at FROM group_windows WHERE group_number = ?", (group_number,)
        ).fetchone()
        return None if row is None else Window(int(row[0]), float(row[1]))

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(self._path, timeout=_LOCK_TIMEOUT_SECONDS, isolation_level=None)
            connection.execute("PRAGMA synchronous=NORMAL")
            self._local.connection = connection
        return connection

    @contextmanager
    def _write_lock(self) -> Iterator[sqlite3.Connection]:
        """A transaction holding SQLite's write lock from its first statement (``BEGIN IMMEDIATE``)."""
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
