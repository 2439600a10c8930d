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


def test_spark_leaves_the_pii_columns_out_as_the_local_reader_does(spark, data_dir):
    from cxml.config import DEFAULT_PII_COLUMNS
    from cxml.jobs.spark import read_table

    customers = read_table(spark, str(data_dir), "customers", DEFAULT_PII_COLUMNS)
    local = load_data_dir(data_dir).tables["customers"]
    assert {"name", "email"} <= set(pd.read_parquet(data_dir / "customers.parquet").columns)
    assert customers is not None and customers.columns == list(local.columns)
    assert not {"name", "email"} & set(customers.columns)


@pytest.fixture(scope="module")
def history_dir(tmp_path_factory) -> Path:
    """Small simulated data with an attribute history: plan changes either side of the cutoff,
    a numeric charge, a new attribute, and faulty rows (an unknown customer, a PII attribute,
    an unparseable time)."""
    data = tmp_path_factory.mktemp("spark-history") / "data"
    run_simulate(data, customers=400, seed=6)
    ids = pd.read_parquet(data / "customers.parquet")["customer_id"].astype(str).tolist()
    rows = [
        (ids[0], "plan", "basic", "2024-03-01"),  # before the cutoff: seen
        (ids[0], "plan", "premium", "2025-07-01"),  # after the cutoff: not seen
        (ids[1], "plan", "standard", "2025-06-30"),  # at the cutoff: not seen -> unknown
        (ids[2], "monthly_charge", "12.5", "2024-01-01"),  # numeric: seen as 12.5
        (ids[3], "loyalty_tier", "gold", "2024-05-01"),  # a new attribute
        (ids[200], "plan", "basic", "2023-01-01"),  # another bucket, most likely
        ("NOBODY", "plan", "basic", "2024-01-01"),  # unknown customer: quarantined
        (ids[4], "email", "x@example.com", "2024-01-01"),  # PII: quarantined
        (ids[5], "plan", "basic", "someday"),  # unparseable time: quarantined
    ]
    frame = pd.DataFrame(rows, columns=["customer_id", "attribute", "value", "valid_from"])
    frame.to_parquet(data / "attributes.parquet")
    return data


def test_spark_reads_attributes_as_of_the_cutoff_as_locally(spark, history_dir):
    from cxml.features.attributes import as_of
    from cxml.jobs.spark import collect_sorted, spark_features

    built = spark_features(spark, str(history_dir), CUTOFF, buckets=3)
    got = collect_sorted(built.features).set_index("customer_id")
    loaded = load_data_dir(history_dir)
    people = as_of(loaded.tables["customers"], loaded.tables["attributes"], CUTOFF)
    local = build_features(loaded.tables["events"], people, CUTOFF).frame().sort_index()
    assert list(got.columns) == list(local.columns)
    pd.testing.assert_frame_equal(got, local, check_exact=True, check_index_type=False)
    assert local.at["C0000000", "profile_plan"] == "basic"  # ids[0]: the change after is unseen
    assert "profile_loyalty_tier" in local and "profile_email" not in local
    bad = built.quarantine.toPandas()
    assert bad.groupby("table").size().to_dict() == {"attributes": 3}
    assert len(loaded.results["attributes"].quarantine) == 3
