"""Whole commands as a user runs them, each a fresh process (imports, reading, cleaning and
writing included): `cxml features` on the simulated base beside the plain pandas script
(`plain_features.py`) on the same files, and `cxml --help`. Beside them the floor of the
command (`floor_features.py`: its reading, build and write without validation), so the output
says how far any `cxml features` could go against the plain script.

Targets (issue 26): `cxml features` at least 2x as fast as the plain script; `cxml --help`
under 0.5 s.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cxml.data.simulate import Simulation
from cxml.jobs.ingest import write_tables

CXML = Path(sys.executable).with_name("cxml")
PLAIN = Path(__file__).with_name("plain_features.py")
FLOOR = Path(__file__).with_name("floor_features.py")


def timed_process(args: list[str], repeat: int) -> tuple[float, float]:
    """The best wall time and the CPU seconds (user + system) of that run, over `repeat`
    runs of a fresh process."""
    best = (float("inf"), 0.0)
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(args, check=True, capture_output=True)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
        best = min(best, (wall, cpu))
    return best


def run(sim: Simulation) -> None:
    cutoff = str(sim.config.cutoff.date())
    print(
        f"whole commands (a fresh process each, best of 3; load average "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())})"
    )
    with tempfile.TemporaryDirectory(prefix="cxml-bench-commands-") as tmp:
        data = Path(tmp) / "data"
        write_tables(
            {"customers": sim.customers, "events": sim.events, "actions": sim.actions}, data
        )
        ours = timed_process(
            [str(CXML), "features", str(data), "--cutoff", cutoff, "--out", f"{tmp}/ours.parquet"],
            3,
        )
        plain = timed_process(
            [sys.executable, str(PLAIN), str(data), cutoff, f"{tmp}/plain.parquet"], 3
        )
        floor = timed_process(
            [sys.executable, str(FLOOR), str(data), cutoff, f"{tmp}/floor.parquet"], 3
        )
    helped = timed_process([str(CXML), "--help"], 5)
    customers = len(sim.customers)
    print(f"  cxml features, {customers:,} customers   {ours[0]:6.2f} s wall  {ours[1]:6.2f} CPU-s")
    print(f"  plain pandas script            {plain[0]:6.2f} s wall  {plain[1]:6.2f} CPU-s")
    print(f"  floor (no validation)          {floor[0]:6.2f} s wall  {floor[1]:6.2f} CPU-s")
    print(f"  speed-up (wall)                {plain[0] / ours[0]:6.2f}x  (target >= 2x)")
    print(
        f"  ceiling (plain / floor)        {plain[0] / floor[0]:6.2f}x  (the most any checked "
        "command reaches)"
    )
    print(
        f"  cxml --help                    {helped[0]:6.2f} s wall  {helped[1]:6.2f} CPU-s"
        "  (target < 0.5 s)\n"
    )
