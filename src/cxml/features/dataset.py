"""Training sets over many cutoffs and the out-of-time split .

A row is keyed `(customer_id, cutoff)`. Validation is out-of-time: every training label window
has closed before the first validation cutoff, and every validation window before the first test
cutoff, so no label the model learns from overlaps a period it is judged on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import pandas as pd

from cxml.config import LabelConfig
from cxml.data.schema import utc_timestamp
from cxml.features.labels import label_inputs, make_labels

__all__ = [
    "FeaturesFn",
    "Split",
    "build_training_set",
    "informative",
    "monthly_cutoffs",
    "out_of_time_split",
]

#: `features_fn(events, customers, cutoff)` -> a frame indexed by customer_id.
FeaturesFn = Callable[[pd.DataFrame, pd.DataFrame, pd.Timestamp], pd.DataFrame]


def monthly_cutoffs(first: str | pd.Timestamp, last: str | pd.Timestamp) -> list[pd.Timestamp]:
    """The first day of each month in [first, last], midnight UTC."""
    start = utc_timestamp(first)
    dates = pd.date_range(start.normalize(), utc_timestamp(last), freq="MS")
    return [d for d in dates if d >= start]


@dataclass(frozen=True)
class Split:
    train: list[pd.Timestamp]
    validation: list[pd.Timestamp]
    test: list[pd.Timestamp]


def out_of_time_split(
    cutoffs: Iterable[str | pd.Timestamp], horizon_days: int, n_test: int = 1, n_validation: int = 1
) -> Split:
    """Train, then validation, then test cutoffs, each group's label windows closed before the next.

    Test: the last `n_test` cutoffs. Validation: the latest `n_validation` cutoffs whose window
    [c, c + horizon) closes on or before the first test cutoff. Train: every cutoff whose window
    closes on or before the first validation cutoff (or test cutoff, with `n_validation=0`).
    Cutoffs in between fit nowhere and are dropped: that gap is what keeps the labels apart.
    """
    if n_test < 1 or n_validation < 0:
        raise ValueError(f"need n_test >= 1 and n_validation >= 0, got {n_test}, {n_validation}")
    ordered = sorted({utc_timestamp(c) for c in cutoffs})
    horizon = pd.Timedelta(days=horizon_days)
    test = ordered[-n_test:] if len(ordered) >= n_test else []
    if len(test) < n_test:
        raise ValueError(f"{len(ordered)} cutoffs cannot hold {n_test} test cutoffs: add cutoffs")
    fits = [c for c in ordered if c + horizon <= test[0]]
    validation = fits[len(fits) - n_validation :] if n_validation else []
    if len(validation) < n_validation:
        raise ValueError(
            f"only {len(fits)} cutoffs have a {horizon_days}-day label window that closes by the "
            f"first test cutoff {test[0].date()}, {n_validation} needed for validation: "
            "add earlier cutoffs, shorten the horizon or lower n_validation"
        )
    boundary = validation[0] if validation else test[0]
    train = [c for c in ordered if c + horizon <= boundary]
    if not train:
        raise ValueError(
            f"no cutoff has a {horizon_days}-day label window that closes by {boundary.date()}, "
            "so nothing is left to train on: add earlier cutoffs or shorten the horizon"
        )
    return Split(train=train, validation=validation, test=test)


def _one_cutoff(features: pd.DataFrame, labels: pd.DataFrame, cutoff: pd.Timestamp) -> pd.DataFrame:
    """Features joined to labels on the labelled (active) customers, keyed (customer_id, cutoff)."""
    clash = set(features.columns) & set(labels.columns)
    if clash:
        raise ValueError(f"features_fn returned label columns {sorted(clash)}: rename them")
    if not features.index.is_unique:
        raise ValueError(f"features_fn returned repeated customer ids at {cutoff}: one row each")
    ids = pd.Index(features.index.astype(str), dtype=object, name="customer_id")
    frame = features.set_axis(ids).join(labels, how="inner")
    frame.index = pd.MultiIndex.from_product(
        [frame.index, [cutoff]], names=["customer_id", "cutoff"]
    )
    return frame


def informative(frame: pd.DataFrame, labels: Iterable[str]) -> pd.DataFrame:
    """The frame without the feature columns that hold one value (or none) on every row: a
    purchase-only log has no logins, tickets or surveys, and a block of columns that never
    change teaches a model nothing while crowding its catalog and its drift checks."""
    keep = set(labels)
    varying = [c for c in frame.columns if c in keep or frame[c].nunique(dropna=True) > 1]
    return frame[varying]


def build_training_set(
    events: pd.DataFrame,
    customers: pd.DataFrame,
    cutoffs: Iterable[str | pd.Timestamp],
    features_fn: FeaturesFn,
    label_config: LabelConfig = LabelConfig(),
) -> pd.DataFrame:
    """Feature columns + `churn` + `satisfaction_drop`, one row per active customer and cutoff.

    `features_fn` sees the full frames (it must only read `event_time < cutoff` itself); the
    labels read a slice of them cut once, not a copy per cutoff. The cutoff is an index level.
    """
    label_events, label_customers = label_inputs(events, customers, label_config)
    parts, at = [], []
    for value in cutoffs:
        cutoff = utc_timestamp(value)
        at.append(cutoff)
        labels = make_labels(label_events, label_customers, cutoff, label_config)
        parts.append(_one_cutoff(features_fn(events, customers, cutoff), labels, cutoff))
    if not parts:
        raise ValueError("no cutoffs given: pass at least one (see monthly_cutoffs)")
    frame = pd.concat(parts)
    if len(frame) == 0:
        raise ValueError(_nobody(at, label_config))
    return frame


def _nobody(at: list[pd.Timestamp], config: LabelConfig) -> str:
    """Why no row was made at any cutoff: who gets a row, and what to check."""
    when = ", ".join(str(c.date()) for c in at[:3]) + (
        f" and {len(at) - 3} more" if len(at) > 3 else ""
    )
    who = "a customer who joined before the cutoff (signup_time, else the first event)"
    if config.churn == "inactivity":
        who += (
            f" with a {' / '.join(config.activity_types)} event in the {config.lookback_days} "
            "days before it"
        )
    return (
        f"no training rows: nobody is in the population at the cutoffs ({when}); a row needs "
        f"{who}: check the cutoffs against the data's dates, labels.churn and "
        "labels.activity_types"
    )
