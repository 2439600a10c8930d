"""Features on Spark equal the local features exactly, and faulty rows are quarantined the same."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from cxml.data.load import load_data_dir
from cxml.features.build import build_features
from cxml.jobs.ingest import run_simulate

CUTOFF = pd.Timestamp("2025-06-30", tz="UTC")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    """Small simulated data with faulty rows added: an unknown customer, a negative purchase, an
    NPS of 12, an empty event type, and a repeated customer."""
    data = tmp_path_factory.mktemp("spark") / "data"
    run_simulate(data, customers=600, seed=5)
    events = pd.read_parquet(data / "events.parquet")
    for column in ("customer_id", "event_type", "channel"):
        events[column] = events[column].astype(object)
    some = events.iloc[:4].copy()
    some["customer_id"] = ["NOBODY", some["customer_id"].iloc[1], *some["customer_id"].iloc[2:]]
    some["event_type"] = ["login", "purchase", "survey_nps", None]
    some["value"] = [None, -5.0, 12.0, None]
    events = pd.concat([events, some], ignore_index=True)
    events.to_parquet(data / "events.parquet")
    customers = pd.read_parquet(data / "customers.parquet")
    pd.concat([customers, customers.iloc[[3]]]).to_parquet(data / "customers.parquet")
    return data


def test_spark_features_equal_local_features_exactly(spark, data_dir):
    from cxml.jobs.spark import collect_sorted, spark_features

    built = spark_features(spark, str(data_dir), CUTOFF, buckets=5)
    got = collect_sorted(built.features).set_index("customer_id")
    loaded = load_data_dir(data_dir)
    local = build_features(loaded.tables["events"], loaded.tables["customers"], CUTOFF).frame()
    local = local.sort_index()
    assert list(got.columns) == list(local.columns)
    pd.testing.assert_frame_equal(got, local, check_exact=True, check_index_type=False)


def test_spark_quarantines_the_same_rows_with_reasons(spark, data_dir):
    from cxml.jobs.spark import spark_features

    bad = spark_features(spark, str(data_dir), CUTOFF, buckets=3).quarantine.toPandas()
    local = load_data_dir(data_dir)
    expected = {name: len(r.quarantine) for name, r in local.results.items() if len(r.quarantine)}
    assert bad.groupby("table").size().to_dict() == expected == {"customers": 1, "events": 4}
    assert bad["reason"].str.len().gt(0).all()
    assert "unknown customer" in " ".join(bad["reason"])
