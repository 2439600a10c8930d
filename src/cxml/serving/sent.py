"""A request's events as columns, read from the parsed request in one pass: what the checks look
at and what the features read. A request's hundred events then cost one Python loop, not one
per check and another to build the tables."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from cxml.serving.schemas import Event

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
NAT = np.iinfo(np.int64).min  # numpy's NaT as int64: here, a time without a time zone


def utc_ns(value: datetime) -> int:
    """Exact UTC nanoseconds since the epoch (float seconds would lose the microseconds)."""
    delta = value - EPOCH
    return ((delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds) * 1_000


@dataclass(frozen=True)
class SentEvents:
    """One customer's events as sent, column by column in the data contract's names."""

    time_ns: np.ndarray  # UTC nanoseconds; NAT where the time has no time zone
    event_type: np.ndarray
    channel: np.ndarray  # None where not sent
    value: np.ndarray  # NaN where not sent
    text: np.ndarray

    @classmethod
    def of(cls, events: Sequence[Event]) -> SentEvents:
        rows = [(e.event_time, e.event_type, e.channel, e.value, e.text) for e in events]
        times, types, channels, values, texts = zip(*rows, strict=True) if rows else [()] * 5
        return cls(
            _times(times),
            np.array(types, dtype=object),
            np.array(channels, dtype=object),
            np.array(values, dtype=float),  # None reads as NaN
            np.array(texts, dtype=object),
        )

    def __len__(self) -> int:
        return len(self.time_ns)


def _times(times: Sequence[datetime]) -> np.ndarray:
    try:
        found = [utc_ns(t) for t in times]
    except TypeError:  # a time without a time zone cannot be taken from an aware one
        found = [NAT if t.utcoffset() is None else utc_ns(t) for t in times]
    try:
        return np.array(found, dtype=np.int64)
    except OverflowError:  # beyond numpy's years (1677..2262), so outside the contract's too
        low, high = NAT + 1, np.iinfo(np.int64).max
        return np.array([ns if ns == NAT else min(max(ns, low), high) for ns in found])
