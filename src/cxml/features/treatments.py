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
from cxml.features.labels import active_customers, churn_times, label_inputs, make_labels


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


def _reached(
    actions: pd.DataFrame, cutoff: pd.Timestamp, horizon_days: int, control: str
) -> pd.Series:
    """Days from `cutoff` to each customer's next logged action inside its outcome window (only
    customers who had one). A logged control row (cxml's own decisions log every customer,
    `none` included) is no action."""
    times = pd.to_datetime(actions["action_time"], utc=True)
    inside = (times > cutoff) & (times < cutoff + pd.Timedelta(days=horizon_days))
    inside &= actions["action"].astype(str) != control
    rows = actions.loc[inside.to_numpy()]
    days = (times[inside] - cutoff) / pd.Timedelta(days=1)
    return days.groupby(rows["customer_id"].astype(str).to_numpy()).min()


def _left(
    events: pd.DataFrame, rows: pd.Index, cutoff: pd.Timestamp, labels: LabelConfig
) -> np.ndarray:
    """Days from `cutoff` to each row's churn inside the window, NaN where none was seen."""
    end = cutoff + pd.Timedelta(days=labels.horizon_days)
    times = churn_times(events, rows, cutoff, end, labels)
    return np.where(times["event"], times["duration_days"], np.nan)


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
    """Features + treatment + propensity + good + retreated + reached_days + left_days, one row
    per active customer and campaign. `retreated` marks a row whose outcome window holds another
    logged action for the customer: its outcome mixes two actions' effects (see
    `ActionsConfig.drop_retreated`); `reached_days` is when that action came (days after the
    campaign, NaN: none), and `left_days` when the customer churned inside the window (outcome
    churn only; NaN: stayed, or another outcome), for `censoring_weights`."""
    parts = []
    for value in cutoffs:
        cutoff = utc_timestamp(value)
        good = _good_outcome(events, customers, cutoff, outcome, labels)
        features = features_fn(events, customers, cutoff)
        features = features.set_axis(features.index.astype(str)).loc[good.index.astype(str)]
        logged = _logged(actions, cutoff).reindex(features.index)
        reached = _reached(actions, cutoff, labels.horizon_days, control).reindex(features.index)
        left = (
            _left(events, features.index, cutoff, labels)
            if outcome == "churn"
            else np.full(len(features), np.nan)
        )
        frame = features.assign(
            treatment=logged["action"].fillna(control).to_numpy(),
            propensity=logged.get("propensity", pd.Series(np.nan, index=logged.index)).to_numpy(),
            good=good.to_numpy(),
            retreated=reached.notna().to_numpy(),
            reached_days=reached.to_numpy(dtype=float),
            left_days=left,
        )
        frame.index = pd.MultiIndex.from_product(
            [frame.index, [cutoff]], names=["customer_id", "cutoff"]
        )
        parts.append(frame)
    if not parts:
        raise ValueError("no campaign times to learn uplift from: the actions log is empty")
    return pd.concat(parts)


#: The least chance of not being reached a kept row may stand for: its weight is at most 1/this.
MIN_UNREACHED = 0.05


def censoring_weights(rows: pd.DataFrame) -> np.ndarray:
    """Per row of a `treatment_set`, 1 / the chance that a customer like it (same campaign, same
    arm) was not reached by another action before its outcome was known; 0 for a retreated row.

    Why: only a customer still there can be reached again, so where later campaigns reached
    most customers, the rows they did not reach are mostly those who left, and dropping the
    others makes every effect look larger than it is. Weighting the kept rows by the inverse of
    that chance (Kaplan-Meier on the reach times, each churner at risk until it left) stands
    them in for the rows left out (inverse probability of censoring weighting)."""
    reached = rows["reached_days"].to_numpy(dtype=float)
    left = rows["left_days"].to_numpy(dtype=float)
    end = np.where(np.isnan(left), np.inf, left)  # a row is under watch until it left
    stop = np.where(np.isnan(reached), np.inf, reached)
    weights = np.zeros(len(rows))
    campaign = rows.index.get_level_values("cutoff")
    strata = pd.factorize(pd.MultiIndex.from_arrays([campaign, rows["treatment"].to_numpy()]))[0]
    for stratum in np.unique(strata):
        at = np.flatnonzero(strata == stratum)
        unreached = np.ones(len(at))
        for day in np.unique(stop[at][np.isfinite(stop[at])]):
            risk = (stop[at] >= day) & (end[at] >= day)
            hazard = (risk & (stop[at] == day)).sum() / max(risk.sum(), 1)
            unreached[end[at] >= day] *= 1.0 - hazard
        seen = np.isinf(stop[at])
        weights[at[seen]] = 1.0 / np.maximum(unreached[seen], MIN_UNREACHED)
    return weights
