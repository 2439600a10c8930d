"""What a run starts from: the data dir's clean tables and the cutoffs, read from the pipeline
config (importing a source first when the config names an importer and the dir is still empty).

`read_data` is the one reading path of every command (validate, features, train, score): the
same cleaning, the same limits, the same quarantine and the same account of what was read."""

from __future__ import annotations

import sys
from collections.abc import Collection
from pathlib import Path

import pandas as pd

from cxml.config import DEFAULT_PII_COLUMNS, PipelineConfig, ReadLimits
from cxml.data.load import LoadedData, load_data_dir
from cxml.data.schema import TABLES, utc_timestamp
from cxml.features.dataset import monthly_cutoffs
from cxml.jobs.ingest import describe_faults, run_import


def read_data(
    data_dir: Path,
    pii_columns: tuple[str, ...] = DEFAULT_PII_COLUMNS,
    limits: ReadLimits = ReadLimits(),
    quarantine_to: Path | None = None,
    write: bool = True,
    tables: Collection[str] = tuple(TABLES),
) -> LoadedData:
    """Read and clean the data dir's `tables`, write the faulty rows with a reason each to
    `quarantine_to` (`write=False`: the caller writes them with its own outputs), say on stderr
    how many rows each file had, used and left out, and stop (ContractError) when the data is
    not usable: nothing is left out without being counted and put somewhere."""
    loaded = load_data_dir(data_dir, pii_columns, limits, check=False, tables=tables)
    if write and quarantine_to is not None:
        loaded.write_quarantine(quarantine_to)
    for line in reading_lines(loaded, quarantine_to):
        print(line, file=sys.stderr)
    loaded.check_usable()
    return loaded


def reading_lines(loaded: LoadedData, quarantine_to: Path | None) -> list[str]:
    """Per file its rows read, used and quarantined; then each kind of fault (file, column,
    rows, examples) and where the rows went."""
    lines = [
        f"read {r.source}: {r.rows_read:,} row(s), {len(r.clean):,} used, "
        f"{len(r.quarantine):,} quarantined"
        for r in loaded.results.values()
    ]
    if loaded.quarantined_rows:
        where = f", each with its reason, -> {quarantine_to}" if quarantine_to else ""
        lines.append(f"{loaded.quarantined_rows:,} row(s) quarantined (left out){where}:")
        lines += [f"  {line}" for line in describe_faults(loaded.faults)]
    return lines


def load_inputs(
    config: PipelineConfig, quarantine_to: Path | None = None, write: bool = True
) -> LoadedData:
    """The data dir's clean tables (`read_data`; faulty rows to `quarantine_to`, by default the
    data dir's quarantine folder, as `cxml validate` does); runs the configured importer first
    if the dir is empty."""
    data = config.data
    if data.importer and not any(data.dir.glob("customers.*")):
        from cxml.data.importers import IMPORTERS

        if data.source is None:
            raise ValueError(f"data.source is needed to import {data.importer} into {data.dir}")
        result = IMPORTERS[data.importer](data.source)
        run_import(result.tables, result.quarantine, data.dir)
    if not data.dir.is_dir():
        raise FileNotFoundError(
            f"data dir {data.dir} not found: run `cxml simulate --out {data.dir}` or pass --data"
        )
    where = data.dir / "quarantine" if quarantine_to is None else quarantine_to
    loaded = read_data(data.dir, config.features.pii_columns, data.limits, where, write)
    aliases = config.features.taxonomy.aliases
    if aliases:  # the business's raw names with a built-in meaning, as that type: labels too
        events = loaded.tables["events"]
        loaded.tables["events"] = events.assign(
            event_type=events["event_type"].astype(object).replace(aliases)
        )
    return loaded


def cutoffs(config: PipelineConfig) -> list[pd.Timestamp]:
    spec = config.cutoffs
    found = monthly_cutoffs(spec.first, spec.last) if spec.first and spec.last else []
    return sorted({*found, *(utc_timestamp(d) for d in spec.extra)})
