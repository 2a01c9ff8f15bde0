"""Answering concurrent single-record requests with one model call.

A scikit-learn ``predict_proba`` costs nearly as much for one row as for a few dozen: the time goes into
per-call work (input checks, one pass over every tree), not per-row arithmetic. While the model thread
works on one group of records, the event loop keeps accepting requests; they form the next group. With one
client this is a plain call; with many concurrent clients the per-call cost is paid once per group.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class MicroBatcher(Generic[Item, Result]):
    """Groups items submitted from the event loop and computes each group in ``executor``.

    ``compute`` receives a group and returns one result per item, in order; if it raises, every item of
    the group gets the exception. Groups are computed one after the other, at most ``max_group`` items each.
    """

    def __init__(
        self, compute: Callable[[list[Item]], Sequence[Result]], executor: Executor, *, max_group: int = 64
    ) -> None:
        self._compute = compute
        self._executor = executor
        self._max_group = max_group
        self._pending: list[tuple[Item, asyncio.Future[Result]]] = []
        self._draining = False

    async def submit(self, item: Item) -> Result:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Result] = loop.create_future()
        self._pending.append((item, future))
        if not self._draining:
            self._draining = True
            loop.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._pending:
                group = self._pending[: self._max_group]
                del self._pending[: self._max_group]
                try:
                    results = await loop.run_in_executor(
                        self._executor, self._compute, [item for item, _ in group]
                    )
                except Exception as exc:  # noqa: BLE001 - handed to every waiting request
                    for _, future in group:
                        if not future.done():
                            future.set_exception(exc)
                else:
                    for (_, future), result in zip(group, results, strict=True):
                        if not future.done():  # the client may have gone away
                            future.set_result(result)
        finally:
            self._draining = False
