"""build_features from 10k to 1M customers: CPU per event should stay flat as the base grows.

Simulating 1M customers is too slow for `make bench`, so every size is made from the simulation
`make bench` already has: its first customers (10k), or copies of it with fresh customer ids
(`<id>_<copy>`), cut to the size. Events keep the simulator's order (by customer, then time).
Each size runs in a fresh Python process, so its peak RSS is that size's alone: "RSS before" is
its RSS once its data is read and made, "peak RSS" its peak from then to the end of
build_features (the peak of making the data, copies included, is reset: it is not the build's).
The process keeps freed memory for reuse as the cxml command does (`cxml/jobs/memory.py`). CPU is
`time.process_time` of a second call: a fresh process's first call also pays the kernel for
handing it memory the first time (the "1st call" column). "kernel" is the part of CPU spent in
the kernel (system time).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cxml.config import FeatureConfig
from cxml.data.simulate import Simulation
from cxml.features.build import build_features
from cxml.jobs.memory import keep_freed_memory

SIZES = (10_000, 100_000, 1_000_000)
ROOT = Path(__file__).resolve().parents[1]


def replicate(
    events: pd.DataFrame, customers: pd.DataFrame, size: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A base of `size` customers: as many copies of this one as it takes, cut to the size."""
    n = len(customers)
    copies = -(-size // n)
    base = customers["customer_id"].astype(str).to_numpy(dtype=object)
    ids = np.concatenate([base] + [base + f"_{k}" for k in range(1, copies)])[:size]
    ids_in_events = events["customer_id"].astype("category").cat
    code = pd.Index(base).get_indexer(ids_in_events.categories)[ids_in_events.codes]
    cust = np.where(code < 0, size, code + n * np.arange(copies)[:, None]).ravel()  # copy by copy
    rows = np.flatnonzero(cust < size)
    out = events.take(rows % len(events))
    out.index = pd.RangeIndex(len(out))
    out["customer_id"] = pd.Categorical.from_codes(cust[rows], categories=pd.Index(ids))
    people = customers.take(np.arange(size) % n)
    people.index = pd.RangeIndex(size)
    people["customer_id"] = ids
    return out, people


def replicate_log(log: pd.DataFrame, customers: pd.DataFrame, people: pd.DataFrame) -> pd.DataFrame:
    """The actions log of `people` (`replicate`'s copies of `customers`): each copy's customers
    get their original's rows under their own id; rows of other customers go."""
    n, size = len(customers), len(people)
    base = pd.Index(customers["customer_id"].astype(str))
    code = base.get_indexer(log["customer_id"].astype(str))
    number = np.where(code < 0, size, code + n * np.arange(-(-size // n))[:, None]).ravel()
    rows = np.flatnonzero(number < size)
    out = log.take(rows % len(log))
    out.index = pd.RangeIndex(len(out))
    out["customer_id"] = people["customer_id"].to_numpy(dtype=object)[number[rows]]
    return out


def _rss() -> int:
    """This process's resident memory now, in bytes (Linux's VmRSS)."""
    status = Path("/proc/self/status").read_text()
    return int(re.search(r"VmRSS:\s*(\d+) kB", status)[1]) * 1024


def _reset_peak() -> None:
    """Start the peak (`_peak_rss`) afresh from the memory in use now (Linux's clear_refs)."""
    Path("/proc/self/clear_refs").write_text("5")


def _peak_rss() -> int:
    """This process's peak resident memory, in bytes: Linux's VmHWM. (`ru_maxrss` would be at
    least the parent's, which a child started by subprocess takes over when it execs.)"""
    status = Path("/proc/self/status").read_text()
    return int(re.search(r"VmHWM:\s*(\d+) kB", status)[1]) * 1024


def measure(base: Path, size: int, cutoff: pd.Timestamp) -> dict[str, float]:
    """In this (fresh) process: make the size's data, then run build_features on it twice."""
    events, customers = replicate(
        pd.read_pickle(base / "events.pkl"), pd.read_pickle(base / "customers.pkl"), size
    )
    _reset_peak()
    cfg, before = FeatureConfig(), _rss()
    cpu, kernel = [], []
    for _ in range(2):
        start, start_kernel = time.process_time(), os.times().system
        build_features(events, customers, cutoff, cfg)
        cpu.append(time.process_time() - start)
        kernel.append(os.times().system - start_kernel)
    return {
        "events": len(events),
        "first": cpu[0],
        "cpu": cpu[1],
        "kernel": kernel[1],
        "before": before,
        "peak": _peak_rss(),
    }


def write_base(sim: Simulation, folder: Path, size: int) -> Path:
    """folder/<size>: the simulation's first `size` customers (all, when it has fewer) and their
    events, pickled once for the fresh processes; a size below the simulation's reads only its
    own customers."""
    n = min(size, len(sim.customers))
    base = folder / str(n)
    if not base.exists():
        base.mkdir()
        events, customers = replicate(sim.events, sim.customers, n)
        events.to_pickle(base / "events.pkl")
        customers.to_pickle(base / "customers.pkl")
    return base


def in_fresh_process(module: str, *args: object) -> dict[str, Any]:
    """`python -m module args...` in a fresh process: the JSON it prints last."""
    command = [sys.executable, "-m", module, *map(str, args)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.splitlines()[-1])


def run(sim: Simulation) -> None:
    cutoff = sim.config.cutoff
    print(f"scaling (build_features; copies of the {len(sim.customers):,}-customer simulation)")
    print("  load average         {:.2f} {:.2f} {:.2f} (1, 5, 15 min)".format(*os.getloadavg()))
    print(
        f"  {'customers':>10} {'events':>12} {'1st call':>9} {'CPU s':>8} {'kernel':>7} "
        f"{'ns/event':>9} {'RSS before':>12} {'peak RSS':>10}  (a fresh process each)"
    )
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for size in SIZES:
            base = write_base(sim, Path(tmp), size)
            r = results[size] = in_fresh_process("benchmarks.bench_scaling", base, size, cutoff)
            print(
                f"  {size:>10,} {r['events']:>12,} {r['first']:>9.2f} {r['cpu']:>8.2f} "
                f"{r['kernel']:>7.2f} {r['cpu'] / r['events'] * 1e9:>9.1f} "
                f"{r['before'] / 2**30:>8.2f} GiB "
                f"{r['peak'] / 2**30:>6.2f} GiB"
            )
    per_event = {size: r["cpu"] / r["events"] for size, r in results.items()}
    own = {size: (r["cpu"] - r["kernel"]) / r["events"] for size, r in results.items()}
    print(
        f"  CPU per event, 1M vs 100k {per_event[1_000_000] / per_event[100_000]:>6.2f}x  "
        f"(target <= 1.3); without the kernel's time {own[1_000_000] / own[100_000]:.2f}x\n"
        "  (kernel: handing out fresh memory, page by page; freed blocks are kept for reuse, as\n"
        "  the cxml commands keep them: cxml/jobs/memory.py. RSS before: the data, and the freed\n"
        "  blocks of making it, kept)\n"
    )


if __name__ == "__main__":
    keep_freed_memory()  # as the cxml command does (cxml/jobs/memory.py)
    base, size, cutoff = Path(sys.argv[1]), int(sys.argv[2]), pd.Timestamp(sys.argv[3])
    print(json.dumps(measure(base, size, cutoff)))
