"""Reading a data dir at 100k and 1M customers: what every command pays before its work.

The bases are bench_scaling's copies of the simulation, written as a data dir of Parquet files
whose text columns are plain text, as a warehouse export or another tool writes them (the
simulator's own files hold categoricals, which are read as they are). Each size is read in a
fresh process, keeping freed memory for reuse as the cxml commands do (`cxml/jobs/memory.py`), with
`load_data_dir`: the read, the checks of every row, and the clean tables. CPU is user + system
time of that process's load, threads included; peak RSS is its peak.

Then the 1M base as cxml itself writes a data dir (`cxml simulate`, `cxml import`: categorical
ids, types and channels; `save_parquet`), beside the same frames written by pyarrow as they are,
which stores a categorical's whole dictionary (all the million ids) in every row group.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from benchmarks.bench_scaling import (
    _peak_rss,
    in_fresh_process,
    replicate,
    replicate_log,
    write_base,
)
from cxml.data.load import load_data_dir
from cxml.data.simulate import Simulation
from cxml.jobs.ingest import write_tables
from cxml.jobs.memory import keep_freed_memory

SIZES = (100_000, 1_000_000)


#: How a bench data dir's text columns are written: as plain text (a warehouse export), as the
#: frames' categoricals by pyarrow as they are, or as cxml writes a data dir (`write_tables`).
FORMS = ("plain", "categorical", "cxml")


def write_plain(
    base: Path, size: int, folder: Path, log: pd.DataFrame | None = None, form: str = "plain"
) -> int:
    """`folder` as a data dir of `size` customers, its text columns written in `form`
    (`FORMS`); its events. `log`: the actions log of `base`'s customers, written for the copies
    (`replicate_log`)."""
    people = pd.read_pickle(base / "customers.pkl")
    events, customers = replicate(pd.read_pickle(base / "events.pkl"), people, size)
    tables = {"events": events, "customers": customers}
    if log is not None:
        tables["actions"] = replicate_log(log, people, customers)
    if form == "cxml":
        write_tables(tables, folder)
        return len(events)
    folder.mkdir()
    for name, frame in tables.items():
        table = pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(None)
        for i, field in enumerate(table.schema):
            if form == "plain" and pa.types.is_dictionary(field.type):
                table = table.set_column(i, field.name, table.column(i).cast(pa.string()))
        pq.write_table(table, folder / f"{name}.parquet")
    return len(events)


def measure(folder: Path) -> dict[str, float]:
    """In this (fresh) process: load the data dir once."""
    keep_freed_memory()
    start, wall = os.times(), time.perf_counter()
    loaded = load_data_dir(folder)
    end = os.times()
    return {
        "cpu": end.user - start.user + end.system - start.system,
        "wall": time.perf_counter() - wall,
        "rows": len(loaded.tables["events"]),
        "peak": _peak_rss(),
    }


def run(sim: Simulation) -> None:
    print("reading a data dir (load_data_dir; Parquet with plain text columns; a fresh process)")
    print("  load average         {:.2f} {:.2f} {:.2f} (1, 5, 15 min)".format(*os.getloadavg()))
    print(
        f"  {'customers':>10} {'events':>12} {'wall s':>8} {'CPU s':>8} {'ns/event':>9} "
        f"{'peak RSS':>10}"
    )
    per_event = {}
    with tempfile.TemporaryDirectory() as tmp:
        for size in SIZES:
            base = write_base(sim, Path(tmp), size)
            folder = Path(tmp) / f"dir-{size}"
            events = write_plain(base, size, folder)
            r = in_fresh_process(__name__, folder)
            assert r["rows"] == events  # every row read is kept (the copies have no fault)
            per_event[size] = r["cpu"] / events
            print(
                f"  {size:>10,} {events:>12,} {r['wall']:>8.2f} {r['cpu']:>8.2f} "
                f"{per_event[size] * 1e9:>9.1f} {r['peak'] / 2**30:>6.2f} GiB"
            )
        print(f"  CPU per event, 1M vs 100k {per_event[1_000_000] / per_event[100_000]:.2f}x")
        print("  the 1M base with categorical text columns:")
        size = SIZES[-1]
        walls = {}
        for form, label in (
            ("categorical", "written by pyarrow as is"),
            ("cxml", "as cxml writes it"),
        ):
            folder = Path(tmp) / f"{form}-{size}"
            events = write_plain(write_base(sim, Path(tmp), size), size, folder, form=form)
            r = in_fresh_process(__name__, folder)
            assert r["rows"] == events
            walls[form] = r["wall"]
            print(
                f"    {label:<25} {r['wall']:>8.2f} s wall {r['cpu']:>8.2f} CPU-s "
                f"{r['peak'] / 2**30:>6.2f} GiB peak"
            )
        print(f"    as cxml writes it, read {walls['categorical'] / walls['cxml']:.2f}x as fast\n")


if __name__ == "__main__":
    print(json.dumps(measure(Path(sys.argv[1]))))
