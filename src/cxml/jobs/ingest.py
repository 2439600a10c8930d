"""Wiring for the data commands: simulate, validate and import write files; logic lives in data/."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import pandas as pd

from cxml.data.io import write_csv, write_json, write_parquet
from cxml.data.load import LoadedData, summarise
from cxml.data.validate import Fault


def write_tables(tables: dict[str, pd.DataFrame], out: Path) -> list[Path]:
    """Each contract table as `out/<name>.parquet`, atomically."""
    return [write_parquet(frame, out / f"{name}.parquet") for name, frame in tables.items()]


def run_simulate(out: Path, customers: int, seed: int) -> dict[str, object]:
    from cxml.data.simulate import SimConfig, simulate

    cfg = SimConfig(customers=customers, seed=seed)
    sim = simulate(cfg)
    tables = {"customers": sim.customers, "events": sim.events, "actions": sim.actions}
    write_tables({**tables, "truth": sim.truth}, out)
    meta = {
        **asdict(cfg),
        "evaluation_cutoff": str(cfg.cutoff),
        "horizon_days": cfg.horizon_weeks * 7,
    }
    write_json(meta, out / "simulation.json")
    return {**meta, "events": len(sim.events), "truth_rows": len(sim.truth)}


def run_import(
    result_tables: dict[str, pd.DataFrame], quarantine: pd.DataFrame, out: Path
) -> list[Path]:
    paths = write_tables(result_tables, out)
    if len(quarantine):
        paths.append(write_csv(quarantine, out / "quarantine" / "import.quarantine.csv"))
    return paths


def describe_faults(faults: list[Fault]) -> list[str]:
    """One line per fault: file, column, how many rows, a few examples, in plain words."""
    return [
        f"{f.source}: column '{f.column}': {f.rows:,} row(s) {f.problem}"
        f" — e.g. {'; '.join(f.examples)}"
        for f in faults
    ]


def describe_summary(loaded: LoadedData) -> list[str]:
    summary = summarise(loaded.tables)
    lines = [f"customers: {summary['customers']:,}", f"events:    {summary['events']:,}"]
    for key in ("events_by_type", "events_by_channel", "actions_by_type"):
        if key in summary:
            counts = summary[key]
            assert isinstance(counts, dict)
            lines.append(
                f"{key.replace('_', ' ')}: " + ", ".join(f"{k} {v:,}" for k, v in counts.items())
            )
    if "first_event" in summary:
        lines.append(f"date range: {summary['first_event']} .. {summary['last_event']}")
    if "label_rows" in summary:
        lines.append(f"label rows: {summary['label_rows']:,}")
    if "attribute_rows" in summary:
        counts = summary["attribute_rows"]
        assert isinstance(counts, dict)
        lines.append("attribute history: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    return lines
