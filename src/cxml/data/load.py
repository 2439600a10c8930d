"""Load a data dir: read every contract table, quarantine faulty rows, summarise what is there.

The composition the CLI, training and scoring share: one place decides the order (customers
first, so events of unknown customers are caught) and what counts as usable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from cxml.config import DEFAULT_PII_COLUMNS
from cxml.data.io import read_table, write_csv
from cxml.data.schema import TABLES
from cxml.data.validate import Fault, TableResult, clean_table, numeric_attributes


@dataclass
class LoadedData:
    """The clean contract tables of a data dir, and what was set aside."""

    tables: dict[str, pd.DataFrame]
    results: dict[str, TableResult] = field(default_factory=dict)

    @property
    def faults(self) -> list[Fault]:
        return [f for r in self.results.values() for f in r.faults]

    @property
    def quarantined_rows(self) -> int:
        return sum(len(r.quarantine) for r in self.results.values())

    def quarantine(self) -> pd.DataFrame:
        frames = [r.quarantine for r in self.results.values() if len(r.quarantine)]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def write_quarantine(self, folder: Path) -> list[Path]:
        """One CSV per table with faulty rows, each with its reason; nothing written if none."""
        return [
            write_csv(r.quarantine, folder / f"{name}.quarantine.csv")
            for name, r in self.results.items()
            if len(r.quarantine)
        ]


def load_data_dir(data_dir: Path, pii_columns: tuple[str, ...] = DEFAULT_PII_COLUMNS) -> LoadedData:
    """Read and clean every table; raises ContractError on a structural fault."""
    loaded = LoadedData(tables={})
    known: pd.Index | None = None
    numeric: frozenset[str] = frozenset()
    for table in TABLES:
        found = read_table(data_dir, table)
        if found is None:
            continue
        raw, path = found
        result = clean_table(table, raw, path.name, known, pii_columns, numeric)
        loaded.results[table] = result
        loaded.tables[table] = result.clean
        if table == "customers":
            known = pd.Index(result.clean["customer_id"].astype(object))
            numeric = numeric_attributes(result.clean)
    return loaded


def summarise(tables: dict[str, pd.DataFrame]) -> dict[str, object]:
    """Counts a person checks first: customers, events by type and channel, the date range."""
    customers, events = tables["customers"], tables["events"]
    summary: dict[str, object] = {"customers": len(customers), "events": len(events)}
    if len(events):
        summary["events_by_type"] = events["event_type"].value_counts().to_dict()
        if "channel" in events:
            summary["events_by_channel"] = events["channel"].value_counts().to_dict()
        summary["first_event"] = str(events["event_time"].min())
        summary["last_event"] = str(events["event_time"].max())
    if "actions" in tables:
        summary["actions_by_type"] = tables["actions"]["action"].value_counts().to_dict()
    if "labels" in tables:
        summary["label_rows"] = len(tables["labels"])
    if "attributes" in tables:
        summary["attribute_rows"] = tables["attributes"]["attribute"].value_counts().to_dict()
    return summary
