"""Treatment sets for uplift: who got which action at each campaign, and what happened next.

A row is keyed `(customer_id, cutoff)` where the cutoff is a campaign time: features from events
strictly before it, the action logged at it (or the control when none was), its logged
propensity (NaN when the log has none, e.g. for untreated customers), and `good` = 1 when the
outcome the actions aim at happened in `[cutoff, cutoff + horizon)`: the customer stayed (for
churn) or had one of the named events (e.g. a visit).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from cxml.config import LabelConfig
from cxml.data.schema import utc_timestamp
from cxml.features.dataset import FeaturesFn
from cxml.features.labels import active_customers, label_inputs, make_labels


def campaign_times(actions: pd.DataFrame) -> list[pd.Timestamp]:
    """The distinct action times of the log: each is one decision point."""
    return sorted(pd.to_datetime(actions["action_time"], utc=True).unique())


def _good_outcome(
    events: pd.DataFrame,
    customers: pd.DataFrame,
    cutoff: pd.Timestamp,
    outcome: str | tuple[str, ...],
    labels: LabelConfig,
) -> pd.Series:
    """1/0 per active customer: stayed (outcome 'churn'), or had an outcome event."""
    if outcome == "churn":
        small, people = label_inputs(events, customers, labels)
        churn = make_labels(small, people, cutoff, labels)["churn"]
        return (1 - churn).astype(float)
    active = active_customers(events, customers, cutoff)
    end = cutoff + pd.Timedelta(days=labels.horizon_days)
    times = events["event_time"]
    hit = events["event_type"].isin(list(outcome)) & (times >= cutoff) & (times < end)
    ids = set(events.loc[hit.to_numpy(), "customer_id"].astype(str))
    return pd.Series([float(i in ids) for i in active], index=active)


def _logged(actions: pd.DataFrame, cutoff: pd.Timestamp) -> pd.DataFrame:
    at = pd.to_datetime(actions["action_time"], utc=True) == cutoff
    rows = actions[at.to_numpy()]
    if rows["customer_id"].duplicated().any():
        raise ValueError(f"actions log has two actions for one customer at {cutoff}: keep one")
    columns = ["action"] + (["propensity"] if "propensity" in rows else [])
    return rows.assign(customer_id=rows["customer_id"].astype(str)).set_index("customer_id")[
        columns
    ]


def _retreated(
    actions: pd.DataFrame, cutoff: pd.Timestamp, horizon_days: int, control: str
) -> pd.Index:
    """Customers with another logged action after `cutoff` but inside its outcome window. A
    logged control row (cxml's own decisions log every customer, `none` included) is no action."""
    times = pd.to_datetime(actions["action_time"], utc=True)
    inside = (times > cutoff) & (times < cutoff + pd.Timedelta(days=horizon_days))
    inside &= actions["action"].astype(str) != control
    return pd.Index(actions.loc[inside.to_numpy(), "customer_id"].astype(str).unique())


def treatment_set(
    events: pd.DataFrame,
    customers: pd.DataFrame,
    actions: pd.DataFrame,
    cutoffs: Iterable[pd.Timestamp],
    features_fn: FeaturesFn,
    labels: LabelConfig,
    outcome: str | tuple[str, ...] = "churn",
    control: str = "none",
) -> pd.DataFrame:
    """Features + treatment + propensity + good + retreated, one row per active customer and
    campaign. `retreated` marks a row whose outcome window holds another logged action for the
    customer: its outcome mixes two actions' effects (see `ActionsConfig.drop_retreated`)."""
    parts = []
    for value in cutoffs:
        cutoff = utc_timestamp(value)
        good = _good_outcome(events, customers, cutoff, outcome, labels)
        features = features_fn(events, customers, cutoff)
        features = features.set_axis(features.index.astype(str)).loc[good.index.astype(str)]
        logged = _logged(actions, cutoff).reindex(features.index)
        frame = features.assign(
            treatment=logged["action"].fillna(control).to_numpy(),
            propensity=logged.get("propensity", pd.Series(np.nan, index=logged.index)).to_numpy(),
            good=good.to_numpy(),
            retreated=features.index.isin(
                _retreated(actions, cutoff, labels.horizon_days, control)
            ),
        )
        frame.index = pd.MultiIndex.from_product(
            [frame.index, [cutoff]], names=["customer_id", "cutoff"]
        )
        parts.append(frame)
    if not parts:
        raise ValueError("no campaign times to learn uplift from: the actions log is empty")
    return pd.concat(parts)
