"""Named stages of a long command, on stderr: a bar over the stages and, as each ends, its name
and elapsed time, so a run of minutes is never silent and a slow stage shows itself. As each
stage ends, the memory it freed goes back to the kernel (jobs/memory.py says why)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from tqdm import tqdm

from cxml.jobs.memory import hand_back_freed_memory


@contextmanager
def stages(desc: str, names: Sequence[str], show: bool = True) -> Iterator[Callable[[str], None]]:
    """Yields `begin(name)`: ends the stage running (printing its time) and starts `name`.
    The last stage is printed when the block ends without an error; the bar (drawn on a
    terminal only) is cleared either way, so an error message is not printed onto it."""
    live = show and sys.stderr.isatty()  # a log file gets the stage lines, not bar redraws
    bar = tqdm(total=len(names), desc=desc, unit="stage", leave=False, file=sys.stderr,
               disable=not live)  # fmt: skip
    running: list[tuple[str, float]] = []

    def end() -> None:
        if running:
            name, started = running.pop()
            if show:
                tqdm.write(f"{desc}: {name} ({time.monotonic() - started:.1f} s)", file=sys.stderr)
            bar.update()
            hand_back_freed_memory()

    def begin(name: str) -> None:
        end()
        bar.set_postfix_str(name)
        running.append((name, time.monotonic()))

    try:
        yield begin
        end()
    finally:
        bar.close()
