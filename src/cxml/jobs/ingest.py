"""Wiring for the data commands: simulate, validate and import write files; logic lives in data/."""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from pathlib import Path

import pandas as pd

from cxml.data.io import write_csv, write_json, write_parquet
from cxml.data.load import LoadedData, summarise
from cxml.data.validate import Fault


def write_tables(tables: dict[str, pd.DataFrame], out: Path) -> list[Path]:
    """Each contract table as `out/<name>.parquet`, atomically."""
    return [write_parquet(frame, out / f"{name}.parquet") for name, frame in tables.items()]


def run_simulate(
    out: Path,
    customers: int,
    seed: int,
    history_weeks: int | None = None,
    decisions: dict[int, pd.DataFrame] | None = None,
    value_weeks: int = 0,
) -> dict[str, object]:
    """Simulate a data dir; with `decisions` (per campaign week, a policy's decisions acted
    out then) the world goes on under them. Its simulation.json and `simulation/` keep all it
    takes to simulate the same world again, and to continue it (`continue_simulation`)."""
    from cxml.data.simulate import SimConfig, simulate

    cfg = SimConfig(customers=customers, seed=seed, value_weeks=value_weeks)
    if history_weeks is not None:
        cfg = replace(cfg, history_weeks=history_weeks)
    decided = dict(sorted((decisions or {}).items()))
    sim = simulate(cfg, decided)
    tables = {"customers": sim.customers, "events": sim.events, "actions": sim.actions}
    write_tables({**tables, "truth": sim.truth}, out)
    kept = {week: f"{SIMULATION}/decisions-week-{week:03d}.parquet" for week in decided}
    for week, name in kept.items():
        write_parquet(decided[week][DECIDED], out / name)
    meta = {
        **asdict(cfg),
        "evaluation_cutoff": str(cfg.cutoff),
        "horizon_days": cfg.horizon_weeks * 7,
        "decisions": {str(week): name for week, name in kept.items()},
    }
    write_json(meta, out / "simulation.json")
    return {**meta, "events": len(sim.events), "truth_rows": len(sim.truth)}


SIMULATION = "simulation"  # where a simulated data dir keeps the decisions it acted out
DECIDED = ["customer_id", "action", "propensity"]  # what of a decisions table the world needs


def continue_simulation(
    source: Path, decisions_file: Path, weeks: int, out: Path
) -> dict[str, object]:
    """The simulated world of `source` continued `weeks` weeks past its evaluation cutoff, the
    decisions in `decisions_file` (a `cxml score` run's decisions.parquet, taken at that
    cutoff) acted out at it instead of the logged policy's campaign; with the truth at the new
    cutoff. Everything earlier happens exactly as it did in `source`."""
    from cxml.data.simulate import CAMPAIGN_EVERY, SimConfig

    meta_path = source / "simulation.json"
    if not meta_path.is_file():
        raise ValueError(
            f"--continue {source}: no simulation.json there; give a simulated data dir"
        )
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    if weeks <= 0 or weeks % CAMPAIGN_EVERY:
        raise ValueError(
            f"--weeks {weeks}: give a positive multiple of {CAMPAIGN_EVERY} (the campaign cycle), "
            "e.g. 16, so the new cutoff is a campaign week and the outcome window has closed"
        )
    try:
        table = pd.read_parquet(decisions_file)
    except (OSError, ValueError) as error:
        msg = f"--decisions {decisions_file}: not a readable Parquet file ({error})"
        raise ValueError(msg) from None
    missing = [c for c in [*DECIDED, "action_time"] if c not in table]
    if missing:
        raise ValueError(
            f"--decisions {decisions_file}: lacks column(s) {missing}; give the decisions.parquet "
            "a `cxml score` run wrote"
        )
    cfg = SimConfig(**{k: meta[k] for k in ("customers", "seed", "start", "history_weeks")})
    cutoff = pd.Timestamp(cfg.cutoff)
    taken = pd.to_datetime(table["action_time"], utc=True).unique()
    if len(taken) != 1 or taken[0] != cutoff:
        raise ValueError(
            f"--decisions {decisions_file}: taken at {[str(t) for t in taken][:3]}, but "
            f"{source}'s evaluation cutoff is {cutoff}: score at that cutoff"
        )
    earlier = {
        int(week): pd.read_parquet(source / name)
        for week, name in meta.get("decisions", {}).items()
    }
    earlier[cfg.history_weeks] = table
    return run_simulate(out, cfg.customers, cfg.seed, cfg.history_weeks + weeks, earlier)


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
