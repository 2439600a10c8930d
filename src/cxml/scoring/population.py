"""Who is scored: the population the models were trained on, at the cutoff."""

from __future__ import annotations

import pandas as pd

from cxml.config import LabelConfig
from cxml.features.labels import population, start_times


def scoring_population(
    events: pd.DataFrame,
    customers: pd.DataFrame,
    cutoff: pd.Timestamp,
    labels: LabelConfig = LabelConfig(),
) -> pd.DataFrame:
    """The customers a model trained on `labels` speaks for at the cutoff (`population`): still
    with us and, under inactivity churn, active in the look-back. Scoring anyone else would
    extrapolate to people the model never saw a label for."""
    rows = population(events, customers, cutoff, labels)
    ids = customers["customer_id"].astype(str)
    return customers[ids.isin(rows).to_numpy()]


def outside_population(
    events: pd.DataFrame,
    customers: pd.DataFrame,
    cutoff: pd.Timestamp,
    labels: LabelConfig = LabelConfig(),
) -> dict[str, str]:
    """Each customer the model does not speak for at the cutoff, and why in words (cancelled on
    a date, not a customer yet, lapsed): what an endpoint answers instead of a risk and an offer."""
    inside = set(population(events, customers, cutoff, labels))
    start = start_times(events, customers)
    outside = [cid for cid in start.index if cid not in inside]
    if not outside:
        return {}
    earlier = events[(events["event_time"] < cutoff) & (events["event_type"] == "cancel")]
    cancelled = earlier.groupby(earlier["customer_id"].astype(str))["event_time"].max()
    kinds = " or ".join(t.replace("_", " ") for t in labels.activity_types)
    reasons = {}
    for cid in outside:
        if cid in cancelled.index:
            reasons[cid] = f"cancelled on {cancelled[cid].date()}, before {cutoff.date()}"
        elif pd.notna(start[cid]) and start[cid] >= cutoff:
            reasons[cid] = f"not a customer yet on {cutoff.date()} (joined {start[cid].date()})"
        else:
            days = labels.lookback_days
            reasons[cid] = f"lapsed: no {kinds} in the {days} days before {cutoff.date()}"
    return reasons
