"""Batch features for a whole data dir, chunked by customer so memory stays bounded."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from cxml.config import FeatureConfig, PipelineConfig, ReadLimits
from cxml.data.io import write_parquet
from cxml.data.schema import utc_timestamp
from cxml.features.attributes import as_of
from cxml.features.build import build_features, log_start
from cxml.features.table import Table
from cxml.features.visible import codes_in, in_look_back

#: What the features are built from: the actions log and labels are not read.
FEATURE_TABLES = ("customers", "events", "attributes")


def feature_chunks(
    events: pd.DataFrame,
    customers: pd.DataFrame,
    cutoff: pd.Timestamp | str,
    config: FeatureConfig | None = None,
    chunk_customers: int = 50_000,
) -> Iterator[pd.DataFrame]:
    """The same `build_features` as scoring (the log's start from all events), one block of
    customers at a time. The events a feature can see (`in_look_back`) are grouped by block
    once (a stable sort of small block numbers), so each block reads one slice of them; a base
    of one block reads the events as they are."""
    since = log_start(events)
    blocks = -(-len(customers) // chunk_customers)
    if blocks <= 1:
        yield build_features(events, customers, cutoff, config, since).frame()
        return
    table = Table.of(events)
    ids = pd.Index(customers["customer_id"].astype(str))
    owner = codes_in(table.columns["customer_id"], ids)
    cut = utc_timestamp(cutoff)
    visible = in_look_back(table.columns["event_time"].asi8, cut, config or FeatureConfig())
    seen = np.flatnonzero((owner >= 0) & visible)
    block_of = owner[seen] // chunk_customers
    order = seen[
        np.argsort(block_of.astype(np.int16 if blocks < 2**15 else np.int64), kind="stable")
    ]
    bounds = np.concatenate([[0], np.cumsum(np.bincount(block_of, minlength=blocks))])
    for block in range(blocks):
        own = table.take(order[bounds[block] : bounds[block + 1]])
        rows = customers.iloc[block * chunk_customers : (block + 1) * chunk_customers]
        yield build_features(own, rows, cutoff, config, since).frame()


def batch_features(
    events: pd.DataFrame,
    customers: pd.DataFrame,
    cutoff: pd.Timestamp | str,
    config: FeatureConfig | None = None,
    chunk_customers: int = 50_000,
    show_progress: bool = True,
) -> pd.DataFrame:
    chunks = feature_chunks(events, customers, cutoff, config, chunk_customers)
    total = -(-len(customers) // chunk_customers)
    parts = list(
        tqdm(chunks, total=total, desc="features", unit="chunk", disable=not show_progress)
    )
    return pd.concat(parts) if parts else build_features(events, customers, cutoff, config).frame()


def run_features(
    data_dir: Path,
    cutoff: str,
    out: Path,
    chunk_customers: int,
    config: PipelineConfig | None = None,
) -> pd.DataFrame:
    """Features of every clean customer, to `out`; faulty rows go, each with its reason, to the
    folder `<out>.quarantine` (as on Spark). `config`: its feature settings, PII columns and
    read limits (defaults without)."""
    from cxml.jobs.inputs import read_data

    fcfg = config.features if config is not None else FeatureConfig()
    limits = config.data.limits if config is not None else ReadLimits()
    where = out.with_name(f"{out.name}.quarantine")
    loaded = read_data(data_dir, fcfg.pii_columns, limits, where, tables=FEATURE_TABLES)
    cut = utc_timestamp(cutoff)
    customers = as_of(loaded.tables["customers"], loaded.tables.get("attributes"), cut)
    features = batch_features(loaded.tables["events"], customers, cut, fcfg, chunk_customers)
    write_parquet(features.reset_index(), out)
    return features
