"""Batch features for a whole data dir, chunked by customer so memory stays bounded."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from cxml.config import FeatureConfig, PipelineConfig, ReadLimits
from cxml.data.io import write_parquet
from cxml.data.schema import utc_timestamp
from cxml.features.attributes import as_of
from cxml.features.build import build_features, log_start


def feature_chunks(
    events: pd.DataFrame,
    customers: pd.DataFrame,
    cutoff: pd.Timestamp | str,
    config: FeatureConfig | None = None,
    chunk_customers: int = 50_000,
) -> Iterator[pd.DataFrame]:
    """The same `build_features` as scoring (the log's start from all events), one block of
    customers at a time."""
    since = log_start(events)
    visible = events[events["event_time"] < utc_timestamp(cutoff)]
    for start in range(0, len(customers), chunk_customers):
        block = customers.iloc[start : start + chunk_customers]
        ids = block["customer_id"].astype(str)
        own = visible[visible["customer_id"].astype(str).isin(ids)]
        yield build_features(own, block, cutoff, config, since).frame()


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
    loaded = read_data(data_dir, fcfg.pii_columns, limits, where)
    cut = utc_timestamp(cutoff)
    customers = as_of(loaded.tables["customers"], loaded.tables.get("attributes"), cut)
    features = batch_features(loaded.tables["events"], customers, cut, fcfg, chunk_customers)
    write_parquet(features.reset_index(), out)
    return features
