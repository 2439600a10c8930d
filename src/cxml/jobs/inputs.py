"""What a run starts from: the data dir's clean tables and the cutoffs, read from the pipeline
config (importing a source first when the config names an importer and the dir is still empty)."""

from __future__ import annotations

import pandas as pd

from cxml.config import PipelineConfig
from cxml.data.load import LoadedData, load_data_dir
from cxml.data.schema import utc_timestamp
from cxml.features.dataset import monthly_cutoffs
from cxml.jobs.ingest import run_import


def load_inputs(config: PipelineConfig) -> LoadedData:
    """The data dir's clean tables; runs the configured importer first if the dir is empty."""
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
    return load_data_dir(data.dir, config.features.pii_columns)


def cutoffs(config: PipelineConfig) -> list[pd.Timestamp]:
    spec = config.cutoffs
    found = monthly_cutoffs(spec.first, spec.last) if spec.first and spec.last else []
    return sorted({*found, *(utc_timestamp(d) for d in spec.extra)})
