"""Coalescing: requests that arrive while the model is busy are scored together, in one call.

Scoring one customer alone is nearly all per-call overhead (pandas, LightGBM calls), so each
customer of a shared call costs a fraction of a call alone (`make bench` prints both). So an
endpoint under concurrent load hands each request to a `Coalescer`, and the requests that queued
while the previous call ran share the next one, grouped by key (customers scored at different
times cannot share a call; aware datetimes of the same instant are equal keys). A request that
finds nothing else queued waits for nobody.

The calls run on the event loop itself, not in a thread: on these machines handing the GIL back
and forth between a scoring thread and the loop that reads requests cost more than it saved.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable, Sequence
from typing import Generic, TypeVar

Key = TypeVar("Key", bound=Hashable)
Item = TypeVar("Item")
Result = TypeVar("Result")
SETTLE_TURNS = 32  # at most this many loop turns to let requests already read join a call


class Coalescer(Generic[Key, Item, Result]):
    """`await submit(key, item)` returns `run(key, items)[i]` for the item's place i in the call
    it joined. `run` must answer each item as if called with it alone, one result per item in
    order; a call that raises is retried item by item, so a bad item fails alone."""

    def __init__(self, run: Callable[[Key, list[Item]], Sequence[Result]], max_items: int):
        self._run = run
        self._max_items = max_items
        self._pending: list[tuple[Key, Item, asyncio.Future[Result]]] = []
        self._drain_task: asyncio.Task[None] | None = None

    async def submit(self, key: Key, item: Item) -> Result:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Result] = loop.create_future()
        self._pending.append((key, item, future))
        if self._drain_task is None or self._drain_task.done():
            self._drain_task = loop.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        while self._pending:
            await self._settle()
            key = self._pending[0][0]
            group: list[tuple[Key, Item, asyncio.Future[Result]]] = []
            rest: list[tuple[Key, Item, asyncio.Future[Result]]] = []
            for entry in self._pending:
                joins = entry[0] == key and len(group) < self._max_items
                (group if joins else rest).append(entry)
            self._pending = rest
            live = [entry for entry in group if not entry[2].done()]  # a client may have left
            if live:
                self._answer(key, live)
                await asyncio.sleep(0)  # send the answers before the next call

    async def _settle(self) -> None:
        """Let the loop finish reading requests that have already arrived: they take a few
        turns each (body, schema, checks) before they reach `submit`."""
        quiet = 0
        for _ in range(SETTLE_TURNS):
            before = len(self._pending)
            await asyncio.sleep(0)
            quiet = quiet + 1 if len(self._pending) == before else 0
            if quiet == 3 or len(self._pending) >= self._max_items:
                return

    def _answer(self, key: Key, group: list[tuple[Key, Item, asyncio.Future[Result]]]) -> None:
        try:
            results = self._run(key, [item for _, item, _ in group])
            if len(results) != len(group):
                raise RuntimeError(f"{len(results)} results for {len(group)} items")
        except Exception as exc:
            if len(group) > 1:  # find the item that fails; the others still get answers
                for entry in group:
                    self._answer(key, [entry])
            elif not group[0][2].done():
                group[0][2].set_exception(exc)
            return
        for (_, _, future), result in zip(group, results, strict=True):
            if not future.done():
                future.set_result(result)
