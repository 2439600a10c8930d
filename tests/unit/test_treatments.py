"""Treatment sets: which rows' outcome windows hold another logged action (inline rows)."""

from __future__ import annotations

import pandas as pd

from cxml.config import LabelConfig
from cxml.features.treatments import treatment_set

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
