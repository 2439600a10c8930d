"""A big base's feature blocks built a few at a time, each on a thread of its own: numpy lets go
of the GIL in most of a block's passes (`make bench`, features). At most `threads` blocks'
arrays are alive at once, plus the next block being found and the one handed out."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

Built = TypeVar("Built")


def built_in_order(
    build: Callable[..., Built], blocks: Iterable[tuple], threads: int
) -> Iterator[Built]:
    """`build(*block)` of each of `blocks`, in their order, `threads` running at a time; each
    handed out as soon as it and those before it are built, so a caller that lets a block go
    once used never holds them all."""
    if threads == 1:
        yield from (build(*block) for block in blocks)
        return
    running: deque[Future[Built]] = deque()
    with ThreadPoolExecutor(threads) as pool:
        for block in blocks:
            if len(running) == threads:
                yield running.popleft().result()
            running.append(pool.submit(build, *block))
        while running:
            yield running.popleft().result()
