"""Batch features for a whole data dir, chunked by customer so memory stays bounded."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from cxml.config import FeatureConfig
from cxml.data.io import write_parquet
from cxml.data.load import load_data_dir
from cxml.data.schema import utc_timestamp
from cxml.features.attributes import as_of
from cxml.features.build import build_features


def feature_chunks(
    events: pd.DataFrame,
    customers: pd.DataFrame,
    cutoff: pd.Timestamp | str,
    config: FeatureConfig | None = None,
    chunk_customers: int = 50_000,
) -> Iterator[pd.DataFrame]:
    """The same `build_features`, one block of customers at a time."""
    visible = events[events["event_time"] < utc_timestamp(cutoff)]
    for start in range(0, len(customers), chunk_customers):
        block = customers.iloc[start : start + chunk_customers]
        ids = block["customer_id"].astype(str)
        own = visible[visible["customer_id"].astype(str).isin(ids)]
        yield build_features(own, block, cutoff, config)


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
    return pd.concat(parts) if parts else build_features(events, customers, cutoff, config)


def run_features(data_dir: Path, cutoff: str, out: Path, chunk_customers: int) -> pd.DataFrame:
    loaded = load_data_dir(data_dir)
    cut = utc_timestamp(cutoff)
    customers = as_of(loaded.tables["customers"], loaded.tables.get("attributes"), cut)
    features = batch_features(
        loaded.tables["events"], customers, cut, chunk_customers=chunk_customers
    )
    write_parquet(features.reset_index(), out)
    return features
