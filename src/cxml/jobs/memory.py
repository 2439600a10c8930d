"""How a batch command's process hands memory back: freed large blocks are kept for reuse.

glibc serves every block above its mmap threshold (32 MiB at most by default) with a fresh
mapping and gives it back to the kernel when it is freed. A feature build or a scoring run makes
and frees many temporary arrays of one value per event, so at a million customers each of them
(hundreds of MiB) is faulted in page by page again and the kernel zeroes every page: the kernel's
share of the CPU grows faster than the data (`make bench`, scaling: the "kernel" column).
Raising both thresholds keeps freed blocks in the heap, where the next array of the same size
reuses them. The price: a freed block that no later array fits stays resident, so a run's peak
can be a little higher (`make bench`, scaling-score: the peak RSS column).

A thread other than the main one gets an arena of its own, which keeps its own freed blocks: a
feature build's two threads (features/build.py, `THREADS`) would each keep a block's worth, on top
of the main heap's. The commands use one arena (`M_ARENA_MAX` 1), so every thread reuses the same
kept blocks; the threads allocate a few large arrays each, not often enough to wait on its lock
(`make bench`, scaling: the peak RSS column).

NumPy also asks the kernel for transparent huge pages for every array of 4 MiB or more
(madvise). Where the kernel honours that request by compacting memory on the fault (its
default `defrag=madvise`), the blocks kept in the heap fault in huge pages at a cost of kernel
time that varies from run to run: on this project's 2-core machine, `cxml features` with
`NUMPY_MADVISE_HUGEPAGE=1` spent more kernel time in its feature build than the build itself
took, and several times what it spends with 0. So the commands ask NumPy not to
(`NUMPY_MADVISE_HUGEPAGE=0`, unless the user set it), before NumPy is imported.

Kept blocks are worth keeping within a stage of a command, whose arrays come in a few sizes
over and over; at a stage's end they are not (the next stage's arrays have other sizes, and the
stage's leftovers would sit under everything it holds). So a long command hands them back to
the kernel as each stage ends (`hand_back_freed_memory`, called by `jobs/progress.stages`): each
stage starts from what its data holds, and the run's peak is the largest stage's, not the sum of
the leftovers (`make bench`, scaling-score: `cxml score`'s own peak RSS).
"""

from __future__ import annotations

import ctypes
import os
import sys

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_ARENA_MAX = -1, -3, -8  # glibc's mallopt (malloc.h)
KEEP_BELOW = 1 << 30  # bytes: blocks smaller than this come from the heap and stay there freed


def is_glibc() -> bool:
    """Whether this process's C library is glibc (the only one whose setting this is)."""
    try:
        return (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc")
    except (ValueError, OSError):  # no such name: not glibc
        return False


def keep_freed_memory() -> bool:
    """Ask glibc's allocator to keep freed large blocks for reuse, in one arena, and NumPy (if
    not imported yet, and by the environment its child processes inherit) not to ask for huge
    pages; False where the C library is not glibc."""
    os.environ.setdefault("NUMPY_MADVISE_HUGEPAGE", "0")
    if not is_glibc():
        return False
    libc = ctypes.CDLL(None)
    kept = libc.mallopt(M_MMAP_THRESHOLD, KEEP_BELOW)
    kept = kept and libc.mallopt(M_TRIM_THRESHOLD, KEEP_BELOW)
    return bool(kept and libc.mallopt(M_ARENA_MAX, 1))


def hand_back_freed_memory() -> bool:
    """Give the heap's free pages back to the kernel (glibc's `malloc_trim`), the kept blocks
    included, and Arrow's pool its unused ones (a data dir's columns are read into Arrow's
    memory, which keeps them when a run lets go of a table): True if glibc gave any back; False
    where the C library is not glibc."""
    arrow = sys.modules.get("pyarrow")
    if arrow is not None:
        arrow.default_memory_pool().release_unused()
    if not is_glibc():
        return False
    return bool(ctypes.CDLL(None).malloc_trim(0))
