"""Treatment sets: which rows' outcome windows hold another logged action (inline rows)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cxml.config import LabelConfig
from cxml.features.treatments import censoring_weights, treatment_set

CAMPAIGN = pd.Timestamp("2024-03-01", tz="UTC")  # a 91-day window closes 2024-05-31
CUSTOMERS = pd.DataFrame(
    {
        "customer_id": ["a", "b", "c", "d", "e"],
        "signup_time": pd.to_datetime(["2023-01-01"] * 5, utc=True),
    }
)
EVENTS = pd.DataFrame(
    {
        "customer_id": ["e"],
        "event_time": pd.to_datetime(["2024-04-01"], utc=True),
        "event_type": ["cancel"],  # e churns inside the window: good = 0
    }
)
ACTIONS = pd.DataFrame(
    [
        ("a", "2024-03-01 00:00", "discount"),  # a's own action at the campaign: not a second one
        (
            "a",
            "2024-04-01 00:00",
            "support_callback",
        ),  # ... and another inside the window: retreated
        (
            "b",
            "2024-05-31 00:00",
            "discount",
        ),  # exactly at the window's end: outside, b stays clean
        ("c", "2024-05-30 23:59", "discount"),  # the window's last minute: c is retreated
        ("d", "2024-02-01 00:00", "discount"),  # before the campaign: d stays clean
        ("e", "2024-04-01 00:00", "none"),  # a logged control row (cxml's decisions): no action
    ],
    columns=["customer_id", "action_time", "action"],
).assign(action_time=lambda f: pd.to_datetime(f["action_time"], utc=True))


def test_rows_whose_window_holds_another_action_are_marked_retreated():
    rows = treatment_set(
        EVENTS,
        CUSTOMERS,
        ACTIONS,
        [CAMPAIGN],
        lambda e, c, t: pd.DataFrame({"x": 1.0}, index=c["customer_id"]),
        LabelConfig(horizon_days=91),
    ).droplevel("cutoff")
    assert rows["retreated"].to_dict() == {"a": True, "b": False, "c": True, "d": False, "e": False}
    assert rows["treatment"].to_dict() == {
        "a": "discount",
        "b": "none",
        "c": "none",
        "d": "none",
        "e": "none",
    }
    assert rows["good"].to_dict() == {"a": 1.0, "b": 1.0, "c": 1.0, "d": 1.0, "e": 0.0}
    assert rows["reached_days"].fillna(-1).to_dict() == pytest.approx(
        {"a": 31.0, "b": -1, "c": 90.0 + 1439 / 1440, "d": -1, "e": -1}
    )
    assert rows["left_days"].fillna(-1).to_dict() == {"a": -1, "b": -1, "c": -1, "d": -1, "e": 31}


def test_rows_a_later_campaign_did_not_reach_stand_in_for_those_it_did():
    """Kaplan-Meier on the reach times, per campaign and arm, by hand: on day 10 a later
    campaign reached one of the four `none` rows still there (r2 had left on day 5), so those
    still there on day 10 were not reached with chance 3/4 and count 4/3 each."""
    index = pd.MultiIndex.from_product(
        [["r1", "r2", "r3", "r4", "r5", "m1", "m2"], [CAMPAIGN]], names=["customer_id", "cutoff"]
    )
    rows = pd.DataFrame(
        {
            "treatment": ["none"] * 5 + ["email"] * 2,
            "reached_days": [10, np.nan, np.nan, np.nan, np.nan, np.nan, np.nan],
            "left_days": [np.nan, 5, np.nan, np.nan, 20, 3, np.nan],
        },
        index=index,
    )
    weights = censoring_weights(rows)
    assert weights == pytest.approx([0, 1, 4 / 3, 4 / 3, 4 / 3, 1, 1])
