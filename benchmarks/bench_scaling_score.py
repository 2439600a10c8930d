"""Batch scoring from 10k to 1M customers: CPU per customer should stay flat as the base grows, and
the 1M base should score within 2.5 GiB of peak RSS (issue 26).

What is timed is what `cxml score --no-page` runs after loading: the scoring population (with the
bundle's labels, as `cxml score`) and its features (`bundle.features`), after which the events
are let go (the command takes the report's figures from them first; only the page reads them later),
`Scorer.score(features, cutoff, 0.1, log, per_customer=False).frame()` (models, reasons for the
riskiest 10%, allocation under the budget) and writing the list
(`write_together(out, scored_files(scored))`), as bench_scoring calls them. The bundle is trained
once, as bench_scoring trains it (`_bundle`), and pickled for the children.

The bases are bench_scaling's copies of the simulation. Allocation gets an actions log, as
`cxml score` passes the data dir's: its cooldowns and contact caps decide who may get what, so
without one the allocation would choose among more customers than a real run does. The log is the
simulation's `sim.actions`, each copy's customers getting their original's rows.

Each size runs in a fresh Python process (peak RSS is that size's alone, "RSS before" its RSS once
the bundle is loaded and the data made; the peak of making them, copies included, is reset, so
"peak RSS" is scoring's, the data it holds included) and is scored once, as `cxml score` would,
keeping freed memory for reuse as the command does (`cxml/jobs/memory.py`); a warm-up on 1,000
customers first pays the imports and first calls a process pays once, so CPU is per customer.
Then the largest base is written as a data dir (Parquet with plain text columns, its actions
log included, as bench_load writes it) and scored as `cxml score` runs from one, in a fresh
process (`from_disk`): reading and cleaning it, then the same scoring and writing. Its peak RSS
is the whole run's, reading included, with nothing made in memory beforehand: the figure the
2.5 GiB target is for. Beside it, what the tables read take as held until the features are built
(`held_bytes`, each text counted once however many rows share it, as pandas' `deep` count does
not), and the floor of that stage: the process before it reads (interpreter, libraries,
bundle), those tables and the feature table.
The stage table splits the CPU: "models" is `Scorer.customer_part` (every model, and each
customer's options: uplift, value and eligibility under the log), "reasons" `Scorer.reasons` and
`action_drivers`, "allocation" `Scorer.allocate`, "rest" what else `score` and `frame` do (rank,
bands, describing the actions, the frame).
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.bench_load import write_plain
from benchmarks.bench_scaling import (
    SIZES,
    _peak_rss,
    _reset_peak,
    _rss,
    in_fresh_process,
    replicate,
    replicate_log,
    write_base,
)
from benchmarks.bench_scoring import _bundle
from cxml.data.io import write_together
from cxml.data.load import load_data_dir
from cxml.data.simulate import Simulation
from cxml.jobs.memory import hand_back_freed_memory, keep_freed_memory
from cxml.jobs.score import scored_files
from cxml.scoring import Scorer, scoring_population

STAGES = ("population", "features", "models", "reasons", "allocation", "rest", "write")
WARM_UP = 1_000


class _Clock:
    """CPU seconds per stage, and the peak RSS once each stage is done. Wraps the scorer's
    methods so the split comes from the very `Scorer.score` call that is timed."""

    def __init__(self, scorer: Scorer) -> None:
        self.cpu = dict.fromkeys(STAGES, 0.0)
        self.peak: dict[str, float] = {}
        for stage, name in [
            ("models", "customer_part"),
            ("reasons", "reasons"),
            ("reasons", "action_drivers"),
            ("allocation", "allocate"),
        ]:
            setattr(scorer, name, self.wrap(stage, getattr(scorer, name)))

    def wrap(self, stage: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.process_time()
            result = fn(*args, **kwargs)
            self.cpu[stage] += time.process_time() - start
            self.peak[stage] = _peak_rss()
            return result

        return timed


def held_bytes(frame: pd.DataFrame) -> int:
    """The bytes `frame`'s columns hold: a categorical's codes and categories, an object
    column's pointers and each distinct object once (a read shares one text object among the
    rows that hold it), any other column's array."""
    total = 0
    for _, column in frame.items():
        if isinstance(column.dtype, pd.CategoricalDtype):
            total += column.cat.codes.nbytes + int(column.cat.categories.memory_usage(deep=True))
        elif column.dtype == object:
            values = column.to_numpy()
            distinct = {id(value): value for value in values}.values()
            total += values.nbytes + sum(sys.getsizeof(value) for value in distinct)
        else:  # its array's bytes (np.asarray would make a time zone's times objects)
            total += int(column.memory_usage(index=False))
    return total


def score(
    scorer: Scorer,
    tables: dict[str, pd.DataFrame],
    cutoff: pd.Timestamp,
    out: Path,
    clock: _Clock,
) -> tuple[int, int]:
    """The batch scoring as `cxml score --no-page` runs it after loading: the events are let
    go once the features are built (jobs/score.py), and freed memory goes back where its
    stages end (jobs/progress.py); the number of customers scored and the bytes of their
    feature table."""
    bundle = scorer.bundle
    stage = clock.wrap
    events, customers = tables.pop("events"), tables["customers"]
    people = stage("population", scoring_population)(events, customers, cutoff, bundle.labels)
    features = stage("features", bundle.features)(events, people, cutoff)
    feature_bytes = sum(np.asarray(column).nbytes for column in features.columns.values())
    del events, people
    hand_back_freed_memory()

    def listed() -> pd.DataFrame:
        found = scorer.score(features, cutoff, 0.1, tables["actions"], per_customer=False)
        return found.frame().reset_index()

    def written() -> None:
        scored["scored_at"] = pd.Timestamp.now(tz="UTC")
        write_together(out, scored_files(scored))

    scored = stage("rest", listed)()
    hand_back_freed_memory()
    stage("write", written)()
    clock.cpu["rest"] -= clock.cpu["models"] + clock.cpu["reasons"] + clock.cpu["allocation"]
    return len(features), feature_bytes


def _load(base: Path) -> Scorer:
    with open(base.parent / "scorer.pkl", "rb") as file:
        return pickle.load(file)


def measure(base: Path, size: int, cutoff: pd.Timestamp) -> dict[str, Any]:
    """In this (fresh) process: load the scorer, warm up on a few customers, make the size's
    data and its log, then score it once."""
    events, customers = pd.read_pickle(base / "events.pkl"), pd.read_pickle(base / "customers.pkl")
    log = pd.read_pickle(base.parent / "actions.pkl")
    few, few_people = replicate(events, customers, WARM_UP)
    out = base.parent / f"out-{size}"
    warm = _load(base)
    score(warm, {"events": few, "customers": few_people, "actions": log}, cutoff, out, _Clock(warm))
    scorer, people = _load(base), customers
    events, customers = replicate(events, customers, size)
    tables = {
        "events": events,
        "customers": customers,
        "actions": replicate_log(log, people, customers),
    }
    count = len(events)
    del warm, few, few_people, people, events, customers, log
    _reset_peak()
    before, clock = _rss(), _Clock(scorer)
    start = time.process_time()
    scored, _ = score(scorer, tables, cutoff, out, clock)
    cpu = time.process_time() - start
    shutil.rmtree(out)
    return {
        "scored": scored,
        "events": count,
        "cpu": cpu,
        "stages": clock.cpu,
        "before": before,
        "peaks": clock.peak,
        "peak": _peak_rss(),
    }


def from_disk(folder: Path, cutoff: pd.Timestamp) -> dict[str, Any]:
    """In this (fresh) process, `cxml score`'s path on a data dir: load the scorer, read and
    clean the data dir (`load_data_dir`), then score and write as `score` does. The peak RSS
    is the whole process's, reading included: what a run on this base needs."""
    scorer = _load(folder)
    hand_back_freed_memory()
    process = _rss()  # interpreter, libraries and bundle, before any data
    start = time.process_time()
    tables, out = load_data_dir(folder).tables, folder.parent / "out-disk"
    read = time.process_time() - start
    peak_read = _peak_rss()
    hand_back_freed_memory()
    counting = time.process_time()  # what the tables hold, counted apart from the run's CPU
    held = sum(held_bytes(t) for t in tables.values() if t is not None)
    counting = time.process_time() - counting
    scored, feature_bytes = score(scorer, tables, cutoff, out, _Clock(scorer))
    cpu = time.process_time() - start - counting
    shutil.rmtree(out)
    return {
        "scored": scored,
        "read": read,
        "cpu": cpu,
        "peak_read": peak_read,
        "held": held,
        "floor": process + held + feature_bytes,
        "peak": _peak_rss(),
    }


def run(sim: Simulation) -> None:
    cutoff = sim.config.cutoff
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        scorer = _bundle(Path(tmp))
        with open(Path(tmp) / "scorer.pkl", "wb") as file:
            pickle.dump(scorer, file)
        sim.actions.to_pickle(Path(tmp) / "actions.pkl")
        print(
            f"scaling (batch scoring, features to written list; copies of the "
            f"{len(sim.customers):,}-customer simulation)"
        )
        print("  load average         {:.2f} {:.2f} {:.2f} (1, 5, 15 min)".format(*os.getloadavg()))
        print(
            f"  {'customers':>10} {'scored':>10} {'events':>12} {'CPU s':>8} {'µs/customer':>12} "
            f"{'RSS before':>12} {'peak RSS':>10}  (a fresh process each)"
        )
        for size in SIZES:
            base = write_base(sim, Path(tmp), size)
            r = results[size] = in_fresh_process(__name__, base, size, cutoff)
            print(
                f"  {size:>10,} {r['scored']:>10,} {r['events']:>12,} {r['cpu']:>8.2f} "
                f"{r['cpu'] / r['scored'] * 1e6:>12.1f} {r['before'] / 2**30:>8.2f} GiB "
                f"{r['peak'] / 2**30:>6.2f} GiB"
            )
        biggest = max(SIZES)
        folder = Path(tmp) / f"dir-{biggest}"
        write_plain(write_base(sim, Path(tmp), biggest), biggest, folder, sim.actions)
        disk = in_fresh_process(__name__, "disk", folder, cutoff)
    per_customer = {size: r["cpu"] / r["scored"] for size, r in results.items()}
    ratio = per_customer[1_000_000] / per_customer[100_000]
    print(f"  CPU per customer, 1M vs 100k: {ratio:.2f}x (target <= 1.3)")
    print(
        f"  peak RSS at 1M: {results[1_000_000]['peak'] / 2**30:.2f} GiB (the data made in "
        "memory, as above; the command's own path is the next line)"
    )
    print(
        f"  from a data dir, as cxml score runs ({biggest:,} customers; Parquet, plain text "
        f"columns): read {disk['read']:.2f} CPU s, peak RSS {disk['peak_read'] / 2**30:.2f} "
        f"GiB; read + score + write {disk['cpu']:.2f} CPU s, peak RSS "
        f"{disk['peak'] / 2**30:.2f} GiB (target <= 2.5 GiB)"
    )
    print(
        f"  the tables read, as held until the features are built: {disk['held'] / 2**30:.2f} "
        "GiB (their columns, each distinct text once)"
    )
    print(
        f"  floor of the feature stage: {disk['floor'] / 2**30:.2f} GiB (the process before "
        "reading, the tables read and the feature table, with no working memory)"
    )
    print("  CPU s by stage (peak RSS once the stage is done, GiB)")
    print(f"  {'customers':>10} " + " ".join(f"{s:>16}" for s in STAGES))
    for size, r in results.items():
        cells = [f"{r['stages'][s]:>7.2f} ({r['peaks'][s] / 2**30:>5.2f})" for s in STAGES]
        print(f"  {size:>10,} " + " ".join(f"{c:>16}" for c in cells))
    print()


if __name__ == "__main__":
    keep_freed_memory()  # as the cxml command does (cxml/jobs/memory.py)
    if sys.argv[1] == "disk":
        print(json.dumps(from_disk(Path(sys.argv[2]), pd.Timestamp(sys.argv[3]))))
    else:
        base, size, cutoff = Path(sys.argv[1]), int(sys.argv[2]), pd.Timestamp(sys.argv[3])
        print(json.dumps(measure(base, size, cutoff)))
