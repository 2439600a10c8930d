"""Batch commands keep freed large blocks: a second array of the same size reuses the first's
memory instead of being faulted in afresh (counted in page faults, not timed)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from cxml.cli.memory import is_glibc

FAULTS_OF_A_SECOND_ARRAY = """
import resource, sys
import numpy as np
if sys.argv[1] == "keep":
    from cxml.cli.memory import keep_freed_memory
    assert keep_freed_memory()
np.ones(1 << 25).sum()  # 256 MiB, freed at once
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
np.ones(1 << 25).sum()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(mode: str) -> int:
    done = subprocess.run(
        [sys.executable, "-c", FAULTS_OF_A_SECOND_ARRAY, mode],
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
