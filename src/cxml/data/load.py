"""Load a data dir: read every contract table, quarantine faulty rows, summarise what is there.

The composition every command shares (through `jobs/inputs.py`) and the service's history: one
place decides the order (customers first, so events of unknown customers are caught), the
limits, and what counts as usable.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from cxml.config import DEFAULT_PII_COLUMNS, ReadLimits
from cxml.data.io import read_table, write_csv
from cxml.data.schema import TABLES, ContractError
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

    def quarantine_files(self, folder: Path) -> dict[Path, pd.DataFrame | None]:
        """Per contract table, its quarantine file in `folder` and the rows for it (None: no
        faulty row, or the table was not read, so a file left there by an earlier run is to
        go)."""
        results = {name: self.results.get(name) for name in TABLES}
        return {
            folder / f"{name}.quarantine.csv": r.quarantine if r and len(r.quarantine) else None
            for name, r in results.items()
        }

    def write_quarantine(self, folder: Path) -> list[Path]:
        """One CSV per table with faulty rows, each with its reason; an earlier run's file of a
        table with none now is removed, so the folder never shows rows of another run."""
        written = []
        for path, rows in self.quarantine_files(folder).items():
            if rows is None:
                path.unlink(missing_ok=True)
            else:
                written.append(write_csv(rows, path))
        return written

    def release(self, table: str) -> None:
        """Let go of `table`'s clean rows once a run has no more use for them (their memory
        goes back); what was quarantined and the counts stay, for the run's outputs."""
        if table not in self.tables:
            return
        empty = self.tables[table].head(0).copy()  # a copy: a slice keeps the columns it views
        self.tables[table] = empty
        if table in self.results:
            self.results[table].clean = empty

    def check_usable(self) -> None:
        """Raise ContractError when the run cannot go on: no customer, or a required table
        given with rows none of which passed (its faults then are the data's shape, not a few
        rows). An optional table may lose every row: it is counted like any other."""
        for result in self.results.values():
            if result.table == "customers" and result.rows_read == 0:
                raise ContractError(
                    f"{result.source}: no customers (the file has a header only); export the "
                    "table with its rows"
                )
            if TABLES[result.table].required and result.rows_read and result.clean.empty:
                worst = sorted(result.faults, key=lambda f: -f.rows)[:2]
                why = "; ".join(f"column '{f.column}': {f.rows:,} {f.problem}" for f in worst)
                raise ContractError(
                    f"{result.source}: none of its {result.rows_read:,} row(s) is usable ({why}); "
                    "fix the file at the source (cxml validate writes each row's reason)"
                )


def require_numbers(loaded: LoadedData, columns: Iterable[str], reader: str) -> None:
    """Stop (ContractError) when a customers column that `reader` (a model) reads as numbers
    holds values that are not: a column typed as text (Parquet), where CSV's numbers were read
    as numbers and any text quarantined. Says the file, the column, examples and what to do."""
    customers, result = loaded.tables["customers"], loaded.results["customers"]
    for column in (c for c in columns if c in customers):
        values = customers[column]
        bad = values.notna() & pd.to_numeric(values, errors="coerce").isna()
        if bad.any():
            shown = ", ".join(repr(v) for v in values[bad].unique()[:3])
            raise ContractError(
                f"{result.source}: column '{column}' holds text ({shown}) where {reader} reads "
                "numbers: write numbers there (empty for unknown), or retrain on this data"
            )


def load_data_dir(
    data_dir: Path,
    pii_columns: tuple[str, ...] = DEFAULT_PII_COLUMNS,
    limits: ReadLimits = ReadLimits(),
    check: bool = True,
    tables: Collection[str] = tuple(TABLES),
) -> LoadedData:
    """Read and clean every table of `tables` (a job that uses a few reads only those; the
    customers always, as the other tables' rows are checked against them), their
    `pii_columns` left out (`read_table`: no command uses them); raises
    ContractError on a structural fault and (`check`) when the data is not usable
    (`LoadedData.check_usable`)."""
    loaded = LoadedData(tables={})
    known: pd.Index | None = None
    numeric: frozenset[str] = frozenset()
    aside: set[str] = set()
    for table in (t for t in TABLES if t in tables or t == "customers"):
        found = read_table(data_dir, table, limits, pii_columns)
        if found is None:
            continue
        raw, path = found
        text = path.suffix != ".parquet"
        result = clean_table(table, raw, path.name, known, pii_columns, numeric, aside, text)
        loaded.results[table] = result
        loaded.tables[table] = result.clean
        if table == "customers":
            known = pd.Index(result.clean["customer_id"].astype(object))
            numeric = numeric_attributes(result.clean)
            quarantined = result.quarantine["customer_id"].dropna().astype(str).str.strip()
            aside = set(quarantined) - set(known)
    if check:
        loaded.check_usable()
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
