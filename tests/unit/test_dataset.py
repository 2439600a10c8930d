"""Cutoffs, the out-of-time split and the stacked training set (DESIGN §2)."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cxml.config import LabelConfig
from cxml.data.simulate import SimConfig, simulate
from cxml.features.dataset import build_training_set, monthly_cutoffs, out_of_time_split
from cxml.features.labels import active_customers, make_labels


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def test_monthly_cutoffs_are_month_starts_in_utc_inclusive():
    assert monthly_cutoffs("2024-01-01", "2024-04-01") == [
        utc("2024-01-01"),
        utc("2024-02-01"),
        utc("2024-03-01"),
        utc("2024-04-01"),
    ]
    # a first day mid-month starts at the next month; the last day need not be a month start
    assert monthly_cutoffs("2024-01-15", "2024-03-31") == [utc("2024-02-01"), utc("2024-03-01")]


def test_split_leaves_a_gap_so_label_windows_do_not_overlap():
    cutoffs = monthly_cutoffs("2024-01-01", "2024-12-01")  # 12 month starts
    split = out_of_time_split(cutoffs, horizon_days=90)
    assert split.test == [utc("2024-12-01")]
    # 2024-09-01 + 90 days = 2024-11-30 <= 2024-12-01; 2024-10-01 + 90 days is too late
    assert split.validation == [utc("2024-09-01")]
    # 2024-06-01 + 90 days = 2024-08-30 <= 2024-09-01
    assert split.train == monthly_cutoffs("2024-01-01", "2024-06-01")


def test_split_accepts_unsorted_strings_and_no_validation():
    split = out_of_time_split(["2024-03-01", "2024-01-01", "2024-02-01"], 28, n_validation=0)
    assert split.train == [utc("2024-01-01"), utc("2024-02-01")]
    assert split.validation == []
    assert split.test == [utc("2024-03-01")]


@pytest.mark.parametrize(
    ("cutoffs", "horizon", "message"),
    [
        ([], 30, "test cutoffs"),
        (["2024-01-01", "2024-02-01"], 90, "validation"),
        (["2024-01-01", "2024-02-01", "2024-03-01"], 30, "nothing is left to train on"),
    ],
)
def test_split_with_too_few_cutoffs_says_what_to_do(cutoffs, horizon, message):
    with pytest.raises(ValueError, match=message):
        out_of_time_split(cutoffs, horizon)


@settings(max_examples=300, deadline=None)
@given(
    start=st.dates(
        min_value=pd.Timestamp("2015-01-01").date(), max_value=pd.Timestamp("2030-01-01").date()
    ),
    months=st.integers(1, 48),
    horizon=st.integers(1, 400),
    n_test=st.integers(1, 4),
    n_validation=st.integers(0, 4),
)
def test_split_windows_never_overlap(start, months, horizon, n_test, n_validation):
    first = pd.Timestamp(start, tz="UTC")
    cutoffs = monthly_cutoffs(first, first + pd.DateOffset(months=months))
    try:
        split = out_of_time_split(cutoffs, horizon, n_test=n_test, n_validation=n_validation)
    except ValueError:
        return  # too few cutoffs for this horizon: refusing is the right answer
    h = pd.Timedelta(days=horizon)
    assert split.test == cutoffs[-n_test:]
    assert len(split.validation) == n_validation and split.train
    after_train = split.validation or split.test
    assert all(c + h <= min(after_train) for c in split.train)
    assert all(c + h <= min(split.test) for c in split.validation)
    # the groups are in time order, disjoint, and train takes every cutoff that fits
    assert max(split.train) < min(after_train)
    assert split.validation == sorted(split.validation)
    assert split.train == [c for c in cutoffs if c + h <= min(after_train)]


# --- build_training_set on a small simulation --------------------------------------------------
def count_past_events(events: pd.DataFrame, customers: pd.DataFrame, cutoff) -> pd.DataFrame:
    """A stand-in features_fn: events strictly before the cutoff, per customer."""
    past = events.loc[events["event_time"] < cutoff, "customer_id"].astype(str)
    ids = customers["customer_id"].astype(str)
    counts = past.value_counts().reindex(ids, fill_value=0)
    return pd.DataFrame({"n_events": counts.to_numpy()}, index=pd.Index(ids, name="customer_id"))


@pytest.fixture(scope="module")
def sim():
    return simulate(SimConfig(customers=500, seed=3, truth_replicates=4))


@pytest.mark.parametrize("churn", ["contractual", "inactivity"])
def test_build_training_set_keys_rows_and_labels(sim, churn):
    config = LabelConfig(horizon_days=60, churn=churn)
    cutoffs = monthly_cutoffs("2024-06-01", "2025-03-01")
    data = build_training_set(sim.events, sim.customers, cutoffs, count_past_events, config)
    assert data.index.names == ["customer_id", "cutoff"]
    assert data.index.is_unique
    assert list(data.columns) == ["n_events", "churn", "satisfaction_drop"]
    assert set(data.index.get_level_values("cutoff")) == set(cutoffs)
    for cutoff in cutoffs[::3]:
        rows = data.xs(cutoff, level="cutoff")
        active = active_customers(sim.events, sim.customers, cutoff)
        assert set(rows.index) <= set(active)
        direct = make_labels(sim.events, sim.customers, cutoff, config)
        pd.testing.assert_frame_equal(
            rows[["churn", "satisfaction_drop"]].sort_index(), direct.sort_index()
        )
        features = count_past_events(sim.events, sim.customers, cutoff)
        assert rows["n_events"].equals(features.loc[rows.index, "n_events"])


def test_build_training_set_rejects_feature_columns_named_like_labels(sim):
    def leaky(events, customers, cutoff):
        return count_past_events(events, customers, cutoff).rename(columns={"n_events": "churn"})

    with pytest.raises(ValueError, match="label columns"):
        build_training_set(sim.events, sim.customers, ["2025-01-01"], leaky, LabelConfig())


def test_build_training_set_with_nobody_in_the_population_says_why(sim):
    """Cutoffs before anyone joined make no rows: a clear error, not an empty frame that
    trains nothing (the Hillstrom import once gave nobody any history before its cutoff)."""
    config = LabelConfig(churn="inactivity", activity_types=("visit",), lookback_days=30)
    with pytest.raises(ValueError, match=r"no training rows.*2001-01-01.*visit event in the 30"):
        build_training_set(sim.events, sim.customers, ["2001-01-01"], count_past_events, config)
