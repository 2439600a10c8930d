"""The simulator's events: how a week's draws become event rows (customers, times, channels),
collected as column arrays and made into the events table once at the end."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cxml.data.simulate_dynamics import WEEK


class EventRecorder:
    """Collects events as column arrays; one concatenation at the end keeps it vectorised."""

    TYPES = (
        "login",
        "purchase",
        "support_ticket",
        "survey_csat",
        "complaint",
        "payment_failed",
        "survey_nps",
        "cancel",
    )
    CHANNELS = ("web", "app", "call_centre", "store", "email", "chat", "social")

    def __init__(self) -> None:
        self.parts: list[tuple[np.ndarray, ...]] = []

    def add(self, cust, time_ns, event_type, channel, value=None, text=None) -> None:
        n = len(cust)
        if n == 0:
            return
        channel = np.broadcast_to(np.asarray(channel), (n,))
        chan = (
            np.searchsorted(np.asarray(self.CHANNELS), channel)
            if channel.dtype.kind == "U"
            else channel
        )
        value = np.full(n, np.nan) if value is None else np.asarray(value, dtype=float)
        text = np.full(n, None, dtype=object) if text is None else text
        kind = np.full(n, self.TYPES.index(event_type), dtype=np.int8)
        self.parts.append((cust, time_ns, kind, chan.astype(np.int8), value, text))

    def frame(self, ids: np.ndarray) -> pd.DataFrame:
        cols = [np.concatenate(c) for c in zip(*self.parts, strict=True)]
        order = np.lexsort((cols[1], cols[0]))
        cust, time_ns, kind, chan, value, txt = (c[order] for c in cols)
        return pd.DataFrame(
            {
                "customer_id": pd.Categorical.from_codes(cust, categories=ids),
                "event_time": pd.to_datetime(time_ns, utc=True).astype("datetime64[ns, UTC]"),
                "event_type": pd.Categorical.from_codes(kind, categories=list(self.TYPES)),
                "channel": pd.Categorical.from_codes(chan, categories=list(self.CHANNELS)),
                "value": value,
                "text": pd.Categorical(txt),  # comments repeat: as a data dir's is read
            }
        )


CHANNEL_CODE = {c: i for i, c in enumerate(EventRecorder.CHANNELS)}


def times_in_week(rng: np.random.Generator, week_ns: int, counts: np.ndarray, idx: np.ndarray):
    """Customers repeated by their counts, at uniform whole-second times within the week."""
    cust = np.repeat(idx, counts)
    seconds = (rng.random(len(cust)) * WEEK.total_seconds()).astype(np.int64)
    return cust, week_ns + seconds * 1_000_000_000


def pick_channel(rng: np.random.Generator, n: int, channels: list[str], p: list[float]):
    codes = np.asarray([CHANNEL_CODE[c] for c in channels])
    return codes[rng.choice(len(channels), n, p=p)]
