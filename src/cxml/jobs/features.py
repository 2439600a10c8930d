"""Batch features for a whole data dir, built a block of customers at a time (memory bounded)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from cxml.config import FeatureConfig, PipelineConfig, ReadLimits
from cxml.data.io import write_parquet
from cxml.data.schema import utc_timestamp
from cxml.features.attributes import as_of
from cxml.features.build import BLOCK_CUSTOMERS, build_features, log_start
from cxml.features.catalog import Features

#: What the features are built from: the actions log and labels are not read.
FEATURE_TABLES = ("customers", "events", "attributes")


def batch_features(
    events: pd.DataFrame,
    customers: pd.DataFrame,
    cutoff: pd.Timestamp | str,
    config: FeatureConfig | None = None,
    chunk_customers: int | None = None,
) -> Features:
    """The same `build_features` as scoring (the log's start from all events), built
    `chunk_customers` customers at a time (default: as scoring does)."""
    since = log_start(events)
    block = chunk_customers or BLOCK_CUSTOMERS
    return build_features(events, customers, cutoff, config, since, block)


def run_features(
    data_dir: Path,
    cutoff: str,
    out: Path,
    chunk_customers: int | None,
    config: PipelineConfig | None = None,
) -> pd.DataFrame:
    """Features of every clean customer, to `out` (and returned as written: the ids in the
    first column); faulty rows go, each with its reason, to the folder `<out>.quarantine` (as
    on Spark). `config`: its feature settings, PII columns and read limits (defaults without)."""
    from cxml.jobs.inputs import read_data

    fcfg = config.features if config is not None else FeatureConfig()
    limits = config.data.limits if config is not None else ReadLimits()
    where = out.with_name(f"{out.name}.quarantine")
    loaded = read_data(data_dir, fcfg.pii_columns, limits, where, tables=FEATURE_TABLES)
    cut = utc_timestamp(cutoff)
    customers = as_of(loaded.tables["customers"], loaded.tables.get("attributes"), cut)
    built = batch_features(loaded.tables["events"], customers, cut, fcfg, chunk_customers)
    del loaded, customers  # the tables go before the features' frame and the write's copies
    features = built.frame_with_ids()
    del built
    write_parquet(features, out)
    return features
