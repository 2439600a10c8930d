"""A big base's feature blocks built a few at a time, each on a thread of its own: numpy lets go
of the GIL in most of a block's passes (`make bench`, features). At most `threads` blocks'
arrays are alive at once, plus the next block being found."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

Built = TypeVar("Built")


def built_in_order(
    build: Callable[..., Built], blocks: Iterable[tuple], threads: int
) -> list[Built]:
    """`build(*block)` of each of `blocks`, in their order, `threads` running at a time."""
    if threads == 1:
        return [build(*block) for block in blocks]
    running: deque[Future[Built]] = deque()
    built: list[Built] = []
    with ThreadPoolExecutor(threads) as pool:
        for block in blocks:
            if len(running) == threads:
                built.append(running.popleft().result())
            running.append(pool.submit(build, *block))
        built.extend(future.result() for future in running)
    return built
