"""Between the API's shapes and the data contract's: a request's customers and events as the
tables the features read, and a scored row as the answer a client gets."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from cxml.config import FeatureConfig
from cxml.features.visible import Source
from cxml.scoring import Scorer
from cxml.serving.checks import Items, Profile
from cxml.serving.schemas import Action, Prediction
from cxml.serving.sent import NAT, SentEvents, utc_ns


def _utc(ns: list[int] | np.ndarray) -> pd.DatetimeIndex:
    """UTC timestamps from nanoseconds (NAT: missing): read as epoch nanoseconds in UTC, which
    is cheaper than localizing naive times."""
    return pd.DatetimeIndex(np.asarray(ns, dtype=np.int64), tz="UTC")


def tables(
    items: Items, profile: Profile, ids: Sequence[str] | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(events, customers) in the data contract's shape, as their columns' arrays (what the
    features read; a frame of a request's rows cost more to make than to read), built without
    per-row pandas objects; attributes the request left out are missing values. `ids` replace
    the customer ids sent (coalesced requests may name the same customer)."""
    ids = [customer.customer_id for customer, _ in items] if ids is None else list(ids)
    return _events(items, ids), _customers(items, profile, ids)


def _customers(items: Items, profile: Profile, ids: list[str]) -> dict[str, Any]:
    signup = [customer.signup_time for customer, _ in items]
    customers: dict[str, Any] = {
        "customer_id": np.array(ids, dtype=object),
        "signup_time": _utc([utc_ns(s) if s else NAT for s in signup]),
    }
    for name in profile.numeric:
        values = [customer.attributes.get(name) for customer, _ in items]
        customers[name] = np.array([np.nan if v is None else v for v in values], dtype=float)
    for name in profile.levels:
        customers[name] = np.array([c.attributes.get(name) for c, _ in items], dtype=object)
    return customers


def _events(items: Items, ids: list[str]) -> dict[str, Any]:
    sent = [events for _, events in items]
    owner = np.repeat(np.array(ids, dtype=object), [len(events) for events in sent])
    return {
        "customer_id": owner,
        "event_time": _utc(np.concatenate([events.time_ns for events in sent])),
        "event_type": np.concatenate([events.event_type for events in sent]),
        "channel": np.concatenate([events.channel for events in sent]),
        "value": np.concatenate([events.value for events in sent]),
        "text": np.concatenate([events.text for events in sent]),
    }


def scored_rows(
    scorer: Scorer,
    events: Source,
    customers: Source,
    at: datetime,
    explain_top: float | None = None,
    log: pd.DataFrame | None = None,
    since: pd.Timestamp | None = None,
) -> list[dict[str, Any]]:
    """These customers scored at `at`, one dict per customer (id first): what an answer is made
    from. Each gets their own best eligible action (a request's answer never depends on who
    else is scored with it). `since`: where the event log starts, when known."""
    cutoff = pd.Timestamp(at)
    features = scorer.bundle.features(events, customers, cutoff, since)
    return scorer.score(features, cutoff, explain_top, log, per_customer=True).records()


def _plain(value: Any) -> Any:
    """A JSON-safe Python value: numpy scalars unwrapped, NaN/NaT to null, times to ISO text,
    containers converted item by item."""
    kind = type(value)
    if kind is str or kind is int or kind is bool:  # most of a scored row's values
        return value
    if kind is float:
        return value if math.isfinite(value) else None
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or value is pd.NaT or (isinstance(value, float) and not math.isfinite(value)):
        return None
    if isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [_plain(v) for v in value]
    return str(value)


_LISTED = re.compile(r"(reason|reason_family)_(\d+)")  # reason_1.. -> reasons: [...]
_LISTS = {"reason": "reasons", "reason_family": "reason_families"}
_DROPPED = {"cutoff", "churn_rank"}  # as_of says the cutoff; a rank needs a whole list
_TEXT = {"customer_id", "model_name", "model_version"}


def unknown_touchpoints(events: SentEvents, config: FeatureConfig) -> list[str]:
    """In words, the event types and channels of a request the model's taxonomy does not know:
    they count as "other", as in batch scoring."""
    types, _ = config.type_vocabulary
    known_types, known_channels = set(types), set(config.counted_channels)
    odd_types = sorted(set(events.event_type.tolist()) - known_types - {"cancel"})
    odd_channels = sorted({c for c in events.channel.tolist() if c} - known_channels)
    notes = [
        f"event type {t!r} is not in this model's taxonomy: counted as other" for t in odd_types
    ]
    notes += [
        f"channel {c!r} is not in this model's taxonomy: counted as other" for c in odd_channels
    ]
    return notes


def answer(row: dict[str, Any], as_of: datetime, notes: list[str] | None = None) -> Prediction:
    """One scored row as the response: numbered reason columns as lists (blanks dropped), the
    action columns as one object, any other column passed through JSON-safe; `notes`: what
    the model did not know in the request."""
    out: dict[str, Any] = {"as_of": as_of}
    if notes:
        out["notes"] = notes
    listed: dict[str, list[tuple[int, Any]]] = {}
    action: dict[str, Any] = {}
    for key, value in row.items():
        part, name, order = _place(str(key))
        if part == "plain":
            out[name] = _plain(value)
        elif part == "text":
            out[name] = str(value)
        elif part == "list":
            listed.setdefault(name, []).append((order, _plain(value)))
        elif part == "action":
            action[name] = _plain(value)
    for name, items in listed.items():
        out[name] = [str(v) for _, v in sorted(items) if v not in (None, "")]
    if "name" in action:
        out["action"] = Action(**action)
    return Prediction(**out)


@lru_cache(maxsize=512)
def _place(key: str) -> tuple[str, str, int]:
    """Where a scored column goes in the answer, (part, name, order): part "drop", "text",
    "list" (name: the list, order: the place in it), "action" (name: its field) or "plain".
    Every request brings the same few dozen columns: each is placed once."""
    if key in _DROPPED:
        return "drop", key, 0
    if key in _TEXT:
        return "text", key, 0
    if m := _LISTED.fullmatch(key):
        return "list", _LISTS[m.group(1)], int(m.group(2))
    if (field := _action_field(key)) is not None:
        return "action", field, 0
    return "plain", key, 0


def _action_field(key: str) -> str | None:
    """The field of the answer's `action` a scored column goes to, or None: not an action's."""
    if key == "action":
        return "name"
    if key.startswith("action_"):
        return key.removeprefix("action_")
    if key == "runner_up_action":
        return "runner_up"
    if key.startswith("runner_up_"):
        return key
    return None
