"""A request's events read once as columns: exact times, missing values as missing, and every
fault of every event reported in the events' order, each at its field."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from cxml.config import FeatureConfig
from cxml.serving.checks import event_problems
from cxml.serving.schemas import PredictRequest
from cxml.serving.sent import NAT, SentEvents
from cxml.serving.tables import unknown_touchpoints


def _sent(events: list[dict]) -> SentEvents:
    body = {"customer": {"customer_id": "a"}, "events": events}
    return SentEvents.of(PredictRequest.model_validate_json(json.dumps(body)).events)


GOOD = {"event_time": "2025-01-01T00:00:00Z", "event_type": "login", "channel": "app"}


def test_times_are_exact_utc_nanoseconds_and_unsent_values_are_missing():
    sent = _sent(
        [
            {**GOOD, "event_time": "2025-06-30T23:59:59.999999+02:00", "value": 3.5},
            {"event_time": "1969-12-31T23:59:59.000001Z", "event_type": "purchase"},
        ]
    )
    want = pd.to_datetime(["2025-06-30T21:59:59.999999Z", "1969-12-31T23:59:59.000001Z"])
    assert sent.time_ns.tolist() == want.asi8.tolist()
    assert sent.event_type.tolist() == ["login", "purchase"]
    assert sent.channel.tolist() == ["app", None]
    assert sent.value[0] == 3.5 and np.isnan(sent.value[1])
    assert sent.text.tolist() == [None, None]
    assert len(_sent([])) == 0


def test_every_fault_is_reported_in_order_at_its_field():
    sent = _sent(
        [
            GOOD,
            {**GOOD, "event_time": "2025-01-01T10:00:00"},  # no time zone
            {**GOOD, "event_time": "0001-01-01T00:00:00Z"},  # beyond int64 nanoseconds
            {**GOOD, "event_time": "2201-01-01T00:00:00Z"},
            {"event_time": "2025-01-01T00:00:00", "event_type": "survey_nps", "value": 11.0},
            {**GOOD, "event_type": "purchase", "value": -1.0},
            {**GOOD, "event_type": "survey_nps"},  # no value: nothing to check
            {**GOOD, "event_type": "survey_csat", "value": 5.0},  # the range's edge is in it
        ]
    )
    assert sent.time_ns[1] == NAT and sent.time_ns[4] == NAT
    found = [(p["loc"], p["type"]) for p in event_problems(sent, 100, ["events"])]
    assert found == [
        (["events", 1, "event_time"], "timezone_required"),
        (["events", 2, "event_time"], "timestamp_out_of_range"),
        (["events", 3, "event_time"], "timestamp_out_of_range"),
        (["events", 4, "event_time"], "timezone_required"),
        (["events", 4, "value"], "value_out_of_range"),
        (["events", 5, "value"], "value_out_of_range"),
    ]
    assert event_problems(_sent([GOOD] * 3), 2, ["events"])[0]["type"] == "too_many_events"


def test_unknown_touchpoints_are_named_once_each():
    sent = _sent([{**GOOD, "event_type": "warp", "channel": "pigeon"}] * 2 + [GOOD])
    notes = unknown_touchpoints(sent, FeatureConfig())
    assert len(notes) == 2
    assert "'warp'" in notes[0] and "'pigeon'" in notes[1]
