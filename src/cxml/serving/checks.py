"""What a request's schema cannot say, checked before anything is scored: times with a time zone
and in range, event values in their type's range, attributes the model knows (and no PII), and
the request's limits. Each check returns problems (empty: fine) so a client hears of every
fault at once, each at its field; the service refuses the request with them (`Unusable`)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np

from cxml.data.schema import EARLIEST, EVENT_VALUE_RANGES, LATEST, TIME_RANGE
from cxml.data.validate import pii_key
from cxml.models.bundle import ScoringBundle
from cxml.serving.errors import Problem, problem
from cxml.serving.sent import NAT, SentEvents, utc_ns

if TYPE_CHECKING:
    from cxml.serving.schemas import AttributeValue, Customer

Items = Sequence[tuple["Customer", SentEvents]]  # each customer with their events
Loc = list[str | int]
EARLIEST_NS = utc_ns(EARLIEST.to_pydatetime())  # the data contract's range, as in batch
LATEST_NS = utc_ns(LATEST.to_pydatetime())


def time_problem(value: datetime | None, loc: Sequence[str | int]) -> Problem | None:
    if value is None:
        return None
    ns = NAT if value.utcoffset() is None else utc_ns(value)
    fault = _time_fault(ns)
    return None if fault is None else problem(loc, *fault)


def _time_fault(ns: int) -> tuple[str, str] | None:
    """What is wrong with a time (UTC nanoseconds, NAT: no time zone), (message, type), or
    None: apart from the problem's location, which a request's hundred good times need not
    build."""
    if ns == NAT:
        msg = "timestamp without a time zone: add one, e.g. 2025-06-30T00:00:00Z or +02:00"
        return msg, "timezone_required"
    if not EARLIEST_NS <= ns < LATEST_NS:
        return f"timestamp outside {TIME_RANGE}", "timestamp_out_of_range"
    return None


def _show(value: object, limit: int = 60) -> str:
    """A value quoted back to the client, cut short (it may be long)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _finite_number(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False  # JSON true/false is not a number here
    try:
        return math.isfinite(float(value))
    except OverflowError:  # an integer beyond float range
        return False


@dataclass(frozen=True)
class Profile:
    """What the model knows about customer attributes: names, and the levels of text ones, each
    in the model's column order (features built in that order need no reordering)."""

    numeric: tuple[str, ...]
    levels: dict[str, tuple[str, ...]]
    pii: frozenset[str]

    @classmethod
    def of(cls, bundle: ScoringBundle, pii_columns: Sequence[str]) -> Profile:
        names = [c.removeprefix("profile_") for c in bundle.feature_names if c[:8] == "profile_"]
        known = bundle.encoder.levels_
        levels = {n: tuple(known[f"profile_{n}"]) for n in names if f"profile_{n}" in known}
        pii = frozenset(pii_key(c) for c in pii_columns)
        return cls(tuple(n for n in names if n not in levels), levels, pii)

    @property
    def names(self) -> list[str]:
        return sorted([*self.numeric, *self.levels])

    def problems(self, attributes: dict[str, AttributeValue], loc: Loc) -> list[Problem]:
        found = []
        for name, value in attributes.items():
            if (fault := self._fault(name, value)) is not None:
                found.append(problem([*loc, name], *fault))
        return found

    def _fault(self, name: str, value: AttributeValue) -> tuple[str, str] | None:
        """What is wrong with one attribute, (message, type), or None."""
        if pii_key(name) in self.pii:
            msg = f"{_show(name)} is personal data: do not send PII; the model does not use it"
            return msg, "pii_refused"
        if name in self.levels:
            allowed = self.levels[name]
            if value is None or (isinstance(value, str) and value in allowed):
                return None
            msg = f"{_show(value)} is not a known {name}; allowed: {', '.join(allowed)} or null"
            return msg, "unknown_category"
        if name in self.numeric:
            if value is None or _finite_number(value):
                return None
            msg = f"{name}: send a finite number or null (0/1 for flags), not {_show(value)}"
            return msg, "number_expected"
        expected = ", ".join(self.names) or "none"
        msg = f"unknown attribute {_show(name)}: this model expects {expected}"
        return msg, "unknown_attribute"


def event_problems(events: SentEvents, limit: int, loc: Loc) -> list[Problem]:
    """Every event's faults, in the events' order; the good events are checked a column at a
    time and only the faulty ones looked at one by one."""
    if len(events) > limit:
        msg = f"{len(events)} events; at most {limit} per customer (send the most recent ones)"
        return [problem(loc, msg, "too_many_events")]
    times = events.time_ns
    faulty = (times < EARLIEST_NS) | (times >= LATEST_NS)  # NAT is below every time
    outside: dict[str, np.ndarray] = {}
    for event_type, (low, high) in EVENT_VALUE_RANGES.items():
        of_type = events.event_type == event_type
        if of_type.any():
            values = events.value
            outside[event_type] = of_type & ((values < low) | (values > high))  # NaN: not sent
            faulty |= outside[event_type]
    found = []
    for i in np.flatnonzero(faulty).tolist():
        if (fault := _time_fault(int(times[i]))) is not None:
            found.append(problem([*loc, i, "event_time"], *fault))
        event_type = events.event_type[i]
        if event_type in outside and outside[event_type][i]:
            low, high = EVENT_VALUE_RANGES[event_type]
            limit_text = f"{low:g}..{high:g}" if math.isfinite(high) else f">= {low:g}"
            msg = f"value {float(events.value[i]):g} outside {limit_text} for {event_type}"
            found.append(problem([*loc, i, "value"], msg, "value_out_of_range"))
    return found


@dataclass(frozen=True)
class Checks:
    """The checks of each endpoint's request, against this model's profile and these limits."""

    profile: Profile
    max_events: int
    max_batch: int

    def as_of(self, as_of: datetime | None) -> list[Problem]:
        return [p for p in [time_problem(as_of, ["as_of"])] if p is not None]

    def predict(
        self, customer: Customer, events: SentEvents, as_of: datetime | None
    ) -> list[Problem]:
        return self._items([(customer, events)], as_of, [[]])

    def batch(self, items: Items, as_of: datetime | None) -> list[Problem]:
        """A batch too large is refused for that alone; otherwise every customer is checked,
        and each customer_id must come once (answers are told apart by it)."""
        if len(items) > self.max_batch:
            msg = f"{len(items)} customers; at most {self.max_batch} per request"
            return [problem(["customers"], msg, "too_many_customers")]
        found = self._items(items, as_of, [["customers", i] for i in range(len(items))])
        seen: set[str] = set()
        for i, (customer, _) in enumerate(items):
            if customer.customer_id in seen:
                loc: Loc = ["customers", i, "customer", "customer_id"]
                found.append(problem(loc, "customer_id repeated in the batch", "duplicate"))
            seen.add(customer.customer_id)
        return found

    def _items(self, items: Items, as_of: datetime | None, locs: Sequence[Loc]) -> list[Problem]:
        found = self.as_of(as_of)
        for (customer, events), loc in zip(items, locs, strict=True):
            signup = time_problem(customer.signup_time, [*loc, "customer", "signup_time"])
            found += [signup] if signup is not None else []
            found += self.profile.problems(customer.attributes, [*loc, "customer", "attributes"])
            found += event_problems(events, self.max_events, [*loc, "events"])
        return found
