"""Batch commands keep freed large blocks: a second array of the same size reuses the first's
memory instead of being faulted in afresh (counted in page faults, not timed); and NumPy does
not ask for huge pages, unless the user said otherwise."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from cxml.jobs.memory import is_glibc

FAULTS_OF_A_SECOND_ARRAY = """
import resource, sys
import numpy as np
if sys.argv[1] == "keep":
    from cxml.jobs.memory import keep_freed_memory
    assert keep_freed_memory()
np.ones(1 << 25).sum()  # 256 MiB, freed at once
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
np.ones(1 << 25).sum()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(mode: str, script: str = FAULTS_OF_A_SECOND_ARRAY) -> int:
    done = subprocess.run(
        [sys.executable, "-c", script, mode],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(done.stdout.split()[-1])


@pytest.mark.skipif(not is_glibc(), reason="the setting is glibc's; other C libraries keep theirs")
def test_a_freed_large_array_is_reused_not_faulted_in_again():
    default, kept = _faults("default"), _faults("keep")
    assert default > 100  # the default maps the second array afresh, page by page
    assert kept < default / 10


FAULTS_AFTER_ANOTHER_THREAD = """
import os, resource, sys, threading
os.environ["NUMPY_MADVISE_HUGEPAGE"] = "0"  # faults counted in pages of one size, both modes
import numpy as np
if sys.argv[1] == "keep":
    from cxml.jobs.memory import keep_freed_memory
    assert keep_freed_memory()
worker = threading.Thread(target=lambda: np.ones(1 << 22).sum())  # 32 MiB, freed at once
worker.start()
worker.join()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
np.ones(1 << 22).sum()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


@pytest.mark.skipif(not is_glibc(), reason="the setting is glibc's; other C libraries keep theirs")
def test_a_block_freed_by_another_thread_is_reused():
    """A feature build's threads (features/build.py) share one arena: what one frees, the next
    array of the same size reuses, whichever thread makes it."""
    default = _faults("default", FAULTS_AFTER_ANOTHER_THREAD)
    kept = _faults("keep", FAULTS_AFTER_ANOTHER_THREAD)
    assert default > 100  # the main thread's heap never had the worker's block
    assert kept < default / 10


HUGE_PAGES_ASKED = """
from cxml.jobs.memory import keep_freed_memory
keep_freed_memory()
import numpy as np
print(int(np._core.multiarray._get_madvise_hugepage()))
"""


def _huge_pages(**env: str) -> int:
    outer = {k: v for k, v in os.environ.items() if k != "NUMPY_MADVISE_HUGEPAGE"}
    done = subprocess.run(
        [sys.executable, "-c", HUGE_PAGES_ASKED],
        capture_output=True,
        text=True,
        check=True,
        env=outer | env,
    )
    return int(done.stdout.split()[-1])


@pytest.mark.skipif(sys.platform != "linux", reason="NumPy asks for huge pages on Linux only")
def test_numpy_asks_for_no_huge_pages_unless_the_user_set_it():
    assert _huge_pages() == 0
    assert _huge_pages(NUMPY_MADVISE_HUGEPAGE="1") == 1


HANDED_BACK = """
from cxml.jobs.memory import hand_back_freed_memory, keep_freed_memory
assert keep_freed_memory()
import numpy as np

def resident_mib():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096 / 2**20

np.ones(1 << 25).sum()  # 256 MiB, freed at once: kept in the heap
kept = resident_mib()
handed = hand_back_freed_memory()
print(int(handed), kept - resident_mib())
"""


@pytest.mark.skipif(not is_glibc(), reason="the setting is glibc's; other C libraries keep theirs")
def test_memory_kept_within_a_stage_is_handed_back_as_it_ends():
    done = subprocess.run(
        [sys.executable, "-c", HANDED_BACK], capture_output=True, text=True, check=True
    )
    handed, freed_mib = done.stdout.split()
    assert handed == "1"
    assert float(freed_mib) > 200  # most of the 256 MiB left the process's resident memory
