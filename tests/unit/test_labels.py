"""Label boundaries (DESIGN §2): `event_time < cutoff` is the past, [cutoff, cutoff + horizon) the
label window, and every inline row below says which side it lands on (lifetimes-style)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cxml.config import LabelConfig
from cxml.data.schema import utc_timestamp
from cxml.data.simulate import SimConfig, simulate
from cxml.features.labels import (
    active_customers,
    churn_labels,
    label_inputs,
    make_labels,
    satisfaction_drop_labels,
)

CUTOFF = pd.Timestamp("2024-04-01", tz="UTC")
HORIZON = pd.Timedelta(days=90)
END = CUTOFF + HORIZON  # 2024-06-30 00:00 UTC, the first instant outside the window
SECOND = pd.Timedelta(seconds=1)
BEFORE = CUTOFF - pd.Timedelta(days=30)  # a plain "in the past" time
DURING = CUTOFF + pd.Timedelta(days=30)  # a plain "in the label window" time
CONFIG = LabelConfig(horizon_days=90)
OLD = pd.Timestamp("2023-01-01", tz="UTC")  # a signup long before the cutoff


def _frame(rows: list[tuple[str, pd.Timestamp, str, float]], categorical: bool) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["customer_id", "event_time", "event_type", "value"])
    frame["event_time"] = frame["event_time"].astype("datetime64[ns, UTC]")
    if categorical:
        frame["customer_id"] = frame["customer_id"].astype("category")
        frame["event_type"] = frame["event_type"].astype("category")
    return frame


def _customers(signups: dict[str, pd.Timestamp | None], categorical: bool) -> pd.DataFrame:
    frame = pd.DataFrame({"customer_id": list(signups), "signup_time": list(signups.values())})
    frame["signup_time"] = pd.to_datetime(frame["signup_time"], utc=True)
    if categorical:
        frame["customer_id"] = frame["customer_id"].astype("category")
    return frame


NAN = float("nan")

# --- population and contractual churn --------------------------------------------------------
CHURN_ROWS = [
    ("at_cutoff", CUTOFF, "cancel", NAN),  # exactly at the cutoff: label side -> a row, churn 1
    ("gone", CUTOFF - SECOND, "cancel", NAN),  # 1 s before the cutoff: already gone -> no row
    ("at_end", END, "cancel", NAN),  # exactly at cutoff + horizon: outside the window -> churn 0
    ("before_end", END - SECOND, "cancel", NAN),  # 1 s before cutoff + horizon: inside -> churn 1
    ("stays", BEFORE, "login", NAN),  # past activity only: a row, churn 0
    ("late_signup", DURING, "login", NAN),  # signed up after the cutoff (see CHURN_SIGNUPS): no row
    ("no_signup_past", BEFORE, "login", NAN),  # signup unknown, active before the cutoff: a row
    ("no_signup_new", CUTOFF, "login", NAN),  # signup unknown, first seen at the cutoff: no row
]
CHURN_SIGNUPS = {
    "at_cutoff": OLD,
    "gone": OLD,
    "at_end": OLD,
    "before_end": OLD,
    "stays": OLD,
    "late_signup": CUTOFF + SECOND,  # joined after the cutoff: not yet a customer -> no row
    "on_cutoff_signup": CUTOFF,  # joined exactly at the cutoff: not strictly before -> no row
    "no_signup_past": None,
    "no_signup_new": None,
}


@pytest.fixture(params=[False, True], ids=["str_ids", "categorical_ids"])
def categorical(request) -> bool:
    return request.param


def test_active_customers_joined_strictly_before_and_not_cancelled_before(categorical):
    events = _frame(CHURN_ROWS, categorical)
    customers = _customers(CHURN_SIGNUPS, categorical)
    active = active_customers(events, customers, CUTOFF)
    assert set(active) == {"at_cutoff", "at_end", "before_end", "stays", "no_signup_past"}
    assert active.dtype == object and active.name == "customer_id"
    assert all(isinstance(v, str) for v in active)


def test_contractual_churn_window_is_half_open(categorical):
    events = _frame(CHURN_ROWS, categorical)
    customers = _customers(CHURN_SIGNUPS, categorical)
    churn = churn_labels(events, customers, CUTOFF, CONFIG)
    assert churn.name == "churn" and churn.dtype == float
    assert churn.to_dict() == {
        "at_cutoff": 1.0,
        "at_end": 0.0,
        "before_end": 1.0,
        "stays": 0.0,
        "no_signup_past": 0.0,
    }


def test_cutoff_given_as_string_or_other_timezone_is_the_same_instant():
    events = _frame(CHURN_ROWS, False)
    customers = _customers(CHURN_SIGNUPS, False)
    expected = churn_labels(events, customers, CUTOFF, CONFIG)
    for cutoff in ("2024-04-01", "2024-04-01 02:00:00+02:00", pd.Timestamp("2024-04-01")):
        assert utc_timestamp(cutoff) == CUTOFF
        pd.testing.assert_series_equal(churn_labels(events, customers, cutoff, CONFIG), expected)


# --- satisfaction drop -------------------------------------------------------------------------
SURVEY_ROWS = [
    ("at_cutoff", BEFORE, "survey_nps", 9.0),  # past: previous = 9
    ("at_cutoff", CUTOFF, "survey_nps", 6.0),  # exactly at the cutoff: label side, new = 6 -> drop
    ("last_day", BEFORE, "survey_nps", 9.0),  # past: previous = 9
    ("last_day", END - SECOND, "survey_nps", 5.0),  # window's last day (1 s before its end): counts
    ("last_day", END, "survey_nps", 10.0),  # exactly at cutoff + horizon: outside, excluded
    ("unasked", BEFORE, "survey_nps", 9.0),  # past score, but no survey in the window -> NaN
    ("no_past", DURING, "survey_nps", 2.0),  # a new score without a previous one -> NaN
    ("band_9_8", BEFORE, "survey_nps", 9.0),  # promoter ...
    ("band_9_8", DURING, "survey_nps", 8.0),  # ... -> passive: 1 point, but a band down -> drop
    ("same_band", BEFORE, "survey_nps", 8.0),  # passive ...
    ("same_band", DURING, "survey_nps", 7.0),  # ... -> passive: 1 point, same band -> no drop
    ("margin", BEFORE, "survey_nps", 6.0),  # detractor ...
    ("margin", DURING, "survey_nps", 4.0),  # ... -> detractor: same band, 2 points -> drop
    # rows out of time order on purpose: "last" means latest event_time, not latest row
    ("last_of_many", BEFORE, "survey_nps", 9.0),  # past, the last one: previous = 9
    ("last_of_many", BEFORE - SECOND, "survey_nps", 3.0),  # past, but not the last one: ignored
    ("last_of_many", DURING + SECOND, "survey_nps", 8.0),  # the window's last: new = 8 -> band drop
    ("last_of_many", DURING, "survey_nps", 10.0),  # in the window, not the last one: ignored
    ("csat_only", BEFORE, "survey_csat", 5.0),  # another survey type: ignored ...
    ("csat_only", DURING, "survey_csat", 1.0),  # ... -> NaN
    ("gone", BEFORE, "survey_nps", 9.0),  # past survey ...
    ("gone", CUTOFF - SECOND, "cancel", NAN),  # ... but cancelled before the cutoff: no row
]
SURVEY_SIGNUPS = {name: OLD for name, *_ in SURVEY_ROWS}
EXPECTED_DROP = {
    "at_cutoff": 1.0,
    "last_day": 1.0,
    "unasked": NAN,
    "no_past": NAN,
    "band_9_8": 1.0,
    "same_band": 0.0,
    "margin": 1.0,
    "last_of_many": 1.0,
    "csat_only": NAN,
}


def test_satisfaction_drop_boundaries_and_unknowns(categorical):
    events = _frame(SURVEY_ROWS, categorical)
    customers = _customers(SURVEY_SIGNUPS, categorical)
    drop = satisfaction_drop_labels(events, customers, CUTOFF, CONFIG)
    assert drop.name == "satisfaction_drop"
    pd.testing.assert_series_equal(
        drop.sort_index(),
        pd.Series(EXPECTED_DROP, name="satisfaction_drop").sort_index(),
        check_index_type=False,
        check_names=False,
    )


def test_without_band_drop_only_the_margin_counts():
    events = _frame(SURVEY_ROWS, False)
    customers = _customers(SURVEY_SIGNUPS, False)
    drop = satisfaction_drop_labels(events, customers, CUTOFF, LabelConfig(band_drop=False))
    assert drop["band_9_8"] == 0.0  # 9 -> 8 is only 1 point
    assert drop["margin"] == 1.0  # 6 -> 4 is 2 points
    assert drop["at_cutoff"] == 1.0  # 9 -> 6 is 3 points


# --- inactivity churn --------------------------------------------------------------------------
LOOKBACK_START = CUTOFF - pd.Timedelta(days=90)
INACTIVE_ROWS = [
    ("lapsed", LOOKBACK_START - SECOND, "login", NAN),  # before the look-back only: lapsed, no row
    ("edge", LOOKBACK_START, "purchase", NAN),  # first instant of the look-back: a row ...
    # ... and no activity in the window -> churn 1
    ("back_at_cutoff", BEFORE, "login", NAN),  # in the look-back: a row ...
    ("back_at_cutoff", CUTOFF, "login", NAN),  # ... active exactly at the cutoff (window) -> 0
    ("back_at_end", BEFORE, "login", NAN),  # in the look-back: a row ...
    ("back_at_end", END, "login", NAN),  # ... next activity at cutoff + horizon: outside -> 1
    ("back_last_second", BEFORE, "usage", NAN),  # in the look-back: a row ...
    ("back_last_second", END - SECOND, "usage", NAN),  # ... active 1 s before the end -> 0
    ("not_activity", BEFORE, "support_ticket", NAN),  # not an activity type: no row ...
    ("not_activity", BEFORE, "survey_nps", 4.0),  # ... though it has a survey
]
INACTIVE_SIGNUPS = {name: OLD for name, *_ in INACTIVE_ROWS}


def test_inactivity_churn_needs_lookback_activity_and_none_in_the_window(categorical):
    events = _frame(INACTIVE_ROWS, categorical)
    customers = _customers(INACTIVE_SIGNUPS, categorical)
    config = LabelConfig(horizon_days=90, churn="inactivity", lookback_days=90)
    churn = churn_labels(events, customers, CUTOFF, config)
    assert churn.to_dict() == {
        "edge": 1.0,
        "back_at_cutoff": 0.0,
        "back_at_end": 1.0,
        "back_last_second": 0.0,
    }
    labels = make_labels(events, customers, CUTOFF, config)
    assert set(labels.index) == set(churn.index)  # a lapsed customer has no row for either target


# --- make_labels and label_inputs --------------------------------------------------------------
def test_make_labels_joins_both_targets_on_the_active_customers(categorical):
    rows = CHURN_ROWS + SURVEY_ROWS[:-1]  # "gone" already cancels in CHURN_ROWS
    events = _frame(rows, categorical)
    customers = _customers(CHURN_SIGNUPS | SURVEY_SIGNUPS, categorical)
    labels = make_labels(events, customers, CUTOFF, CONFIG)
    assert list(labels.columns) == ["churn", "satisfaction_drop"]
    assert set(labels.index) == set(active_customers(events, customers, CUTOFF))
    assert labels.index.dtype == object
    assert labels.loc["at_cutoff"].tolist() == [1.0, 1.0]
    assert labels["churn"].notna().all()


@pytest.mark.parametrize("churn", ["contractual", "inactivity"])
def test_label_inputs_give_the_same_labels_as_the_full_frames(churn):
    rows = CHURN_ROWS + SURVEY_ROWS[:-1] + INACTIVE_ROWS
    events = _frame(rows, True)
    customers = _customers(CHURN_SIGNUPS | SURVEY_SIGNUPS | INACTIVE_SIGNUPS, True)
    config = LabelConfig(churn=churn)
    small_events, small_customers = label_inputs(events, customers, config)
    assert len(small_events) < len(events)
    for cutoff in (CUTOFF - pd.Timedelta(days=45), CUTOFF, DURING):
        pd.testing.assert_frame_equal(
            make_labels(small_events, small_customers, cutoff, config),
            make_labels(events, customers, cutoff, config),
        )


def test_empty_events_give_no_churn_and_unknown_satisfaction():
    events = _frame([], False)
    customers = _customers({"a": OLD}, False)
    labels = make_labels(events, customers, CUTOFF, CONFIG)
    assert labels["churn"].tolist() == [0.0]
    assert np.isnan(labels.loc["a", "satisfaction_drop"])


# --- on the simulator, against its truth ---------------------------------------------------------
@pytest.fixture(scope="module")
def sim():
    return simulate(SimConfig(customers=2_000, seed=1, truth_replicates=8))


def test_active_customers_at_the_evaluation_cutoff_are_the_truth_population(sim):
    active = active_customers(sim.events, sim.customers, sim.config.cutoff)
    assert active.is_unique
    assert set(active) == set(sim.truth["customer_id"])


def test_contractual_churn_rate_matches_the_cancels_in_the_truth_horizon(sim):
    cutoff = sim.config.cutoff
    horizon = pd.Timedelta(days=int(sim.truth["horizon_days"].iloc[0]))
    assert horizon == pd.Timedelta(days=91)
    churn = churn_labels(sim.events, sim.customers, cutoff, LabelConfig(horizon_days=91))
    ev = sim.events
    in_window = (ev["event_time"] >= cutoff) & (ev["event_time"] < cutoff + horizon)
    cancelled = set(ev.loc[in_window & (ev["event_type"] == "cancel"), "customer_id"].astype(str))
    expected = sim.truth["customer_id"].isin(cancelled).mean()
    assert churn.mean() == pytest.approx(expected, abs=1e-12)
    # and the realised rate is one draw of the stated probabilities (4 standard errors)
    p = sim.truth.set_index("customer_id").loc[churn.index, "p_churn_observed"]
    assert abs(churn.mean() - p.mean()) < 4 * np.sqrt((p * (1 - p)).sum()) / len(p)


def test_who_is_outside_the_population_and_why():
    """What /predict_by_id answers instead of a score: each reason matches the rule that left
    the customer out, and everyone inside the population is absent from the answer."""
    from cxml.scoring.population import outside_population

    events = _frame(
        [
            ("stays", BEFORE, "login", np.nan),
            ("left", BEFORE, "cancel", np.nan),
            ("quiet", OLD, "purchase", 5.0),
            ("buyer", BEFORE, "purchase", 5.0),
        ],
        categorical=False,
    )
    customers = _customers(
        {"stays": OLD, "left": OLD, "late": CUTOFF, "quiet": OLD, "buyer": OLD}, False
    )
    contractual = outside_population(events, customers, CUTOFF, CONFIG)
    assert contractual == {
        "left": f"cancelled on {BEFORE.date()}, before {CUTOFF.date()}",
        "late": f"not a customer yet on {CUTOFF.date()} (joined {CUTOFF.date()})",
    }
    inactivity = LabelConfig(horizon_days=90, churn="inactivity", activity_types=("purchase",))
    lapsed = outside_population(events, customers, CUTOFF, inactivity)
    assert set(lapsed) == {"left", "late", "quiet", "stays"}
    assert lapsed["quiet"].startswith("lapsed: no purchase in the")
