"""Labels at a cutoff: who is still a customer, who churns, whose satisfaction drops.

The one rule of time: `event_time < cutoff` is the past (features, the population), and
`[cutoff, cutoff + horizon)` is the label window. Every event lands on exactly one side, so a
label never sees what a feature saw, and a customer already gone at the cutoff has no row.
All functions take frames and return frames indexed by `customer_id` as plain `str`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pandas.api.types import is_string_dtype

from cxml.config import LabelConfig
from cxml.data.schema import utc_timestamp

__all__ = [
    "active_customers",
    "churn_labels",
    "churn_times",
    "churn_times_of",
    "label_inputs",
    "make_labels",
    "population",
    "satisfaction_drop_labels",
    "spend_between",
]


def _str_ids(values: pd.Series | pd.Index) -> np.ndarray:
    """Customer ids as an object array of str, whether they came categorical or not."""
    series = pd.Series(values)
    if isinstance(series.dtype, pd.CategoricalDtype) and is_string_dtype(series.cat.categories):
        return series.to_numpy(dtype=object)  # a take on the categories: nothing converted
    return series.astype(str).to_numpy(dtype=object)


def _ids_with(
    events: pd.DataFrame, types: list[str], start: pd.Timestamp | None, end: pd.Timestamp | None
) -> np.ndarray:
    """Unique ids with an event of one of `types` in [start, end) (None: unbounded)."""
    mask = events["event_type"].isin(types).to_numpy()
    times = events["event_time"]
    if start is not None:
        mask &= (times >= start).to_numpy()
    if end is not None:
        mask &= (times < end).to_numpy()
    return _str_ids(pd.Series(events.loc[mask, "customer_id"].unique()))


def start_times(events: pd.DataFrame, customers: pd.DataFrame) -> pd.Series:
    """When each customer became one: signup_time, or their first event where it is missing."""
    ids = _str_ids(customers["customer_id"])
    if "signup_time" in customers:
        start = pd.Series(pd.to_datetime(customers["signup_time"], utc=True).array, index=ids)
    else:
        start = pd.Series(pd.NaT, index=ids, dtype="datetime64[ns, UTC]")
    if start.isna().any() and len(events):
        first = events.groupby(_str_ids(events["customer_id"]))["event_time"].min()
        start = start.fillna(first.reindex(start.index))
    return start


def active_customers(
    events: pd.DataFrame, customers: pd.DataFrame, cutoff: str | pd.Timestamp
) -> pd.Index:
    """Who gets a row at `cutoff`: joined strictly before it and did not cancel before it. A
    customer with no signup time and no event (a snapshot) counts from the start: the customers
    table says they are one."""
    cutoff = utc_timestamp(cutoff)
    start = start_times(events, customers)
    gone = _ids_with(events, ["cancel"], None, cutoff)
    keep = ((start < cutoff) | start.isna()).to_numpy() & ~start.index.isin(gone)
    return pd.Index(start.index[keep], dtype=object, name="customer_id")


def population(
    events: pd.DataFrame,
    customers: pd.DataFrame,
    cutoff: str | pd.Timestamp,
    config: LabelConfig = LabelConfig(),
) -> pd.Index:
    """Who gets a churn label at `cutoff`, and so whom a model trained on these labels speaks
    for: the customers still with us (joined before it, not cancelled) and, under inactivity
    churn, active in the look-back (a lapsed customer has gone already)."""
    cutoff = utc_timestamp(cutoff)
    active = active_customers(events, customers, cutoff)
    if config.churn == "inactivity":
        start = cutoff - pd.Timedelta(days=config.lookback_days)
        active = active[active.isin(_ids_with(events, list(config.activity_types), start, cutoff))]
    return active


def describe_churn(config: LabelConfig) -> str:
    """The churn definition in words, for people reading a list or a report."""
    days = config.horizon_days
    if config.churn == "contractual":
        return f"a cancellation within {days} days"
    kinds = " or ".join(t.replace("_", " ") for t in config.activity_types)
    return f"no {kinds} within {days} days (of those active in the {config.lookback_days} before)"


def _churn(
    events: pd.DataFrame, rows: pd.Index, cutoff: pd.Timestamp, config: LabelConfig
) -> pd.Series:
    """The churn label of the population `rows` (see `population`)."""
    end = cutoff + config.horizon
    if config.churn == "contractual":
        churned = rows.isin(_ids_with(events, ["cancel"], cutoff, end))
    elif config.churn == "inactivity":
        churned = ~rows.isin(_ids_with(events, list(config.activity_types), cutoff, end))
    else:
        raise ValueError(f"unknown churn definition {config.churn!r}: use contractual/inactivity")
    return pd.Series(churned.astype(float), index=rows, name="churn")


def churn_labels(
    events: pd.DataFrame,
    customers: pd.DataFrame,
    cutoff: str | pd.Timestamp,
    config: LabelConfig = LabelConfig(),
) -> pd.Series:
    """1.0 if the customer churns in [cutoff, cutoff + horizon), else 0.0.

    Contractual: a `cancel` in the window. Inactivity: among customers active in the look-back
    (the others have lapsed already and get no row), no activity event in the window.
    """
    cutoff = utc_timestamp(cutoff)
    return _churn(events, population(events, customers, cutoff, config), cutoff, config)


def _last_score(surveys: pd.DataFrame, start: pd.Timestamp | None, end: pd.Timestamp) -> pd.Series:
    """The last survey score per customer in [start, end) (start None: from the beginning)."""
    times = surveys["event_time"]
    mask = (times < end) if start is None else (times >= start) & (times < end)
    window = surveys.loc[mask].sort_values("event_time", kind="stable")
    last = window.drop_duplicates("customer_id", keep="last")
    return pd.Series(last["value"].to_numpy(), index=_str_ids(last["customer_id"]))


def _satisfaction_drop(
    events: pd.DataFrame, rows: pd.Index, cutoff: pd.Timestamp, config: LabelConfig
) -> pd.Series:
    end = cutoff + config.horizon
    if "value" not in events:  # the column is optional: no scores, every label unknown
        return pd.Series(np.nan, index=rows, name="satisfaction_drop")
    is_survey = (events["event_type"] == config.survey_type).to_numpy()
    in_range = (events["event_time"] < end).to_numpy() & events["value"].notna().to_numpy()
    surveys = events.loc[is_survey & in_range, ["customer_id", "event_time", "value"]]
    previous = _last_score(surveys, None, cutoff).reindex(rows).to_numpy(dtype=float)
    new = _last_score(surveys, cutoff, end).reindex(rows).to_numpy(dtype=float)
    dropped = new <= previous - config.drop_margin
    if config.band_drop:
        edges = np.asarray(config.band_edges, dtype=float)
        band = np.searchsorted(edges, previous, side="right")
        dropped |= np.searchsorted(edges, new, side="right") < band
    known = ~(np.isnan(previous) | np.isnan(new))
    label = np.where(known, dropped.astype(float), np.nan)
    return pd.Series(label, index=rows, name="satisfaction_drop")


def satisfaction_drop_labels(
    events: pd.DataFrame,
    customers: pd.DataFrame,
    cutoff: str | pd.Timestamp,
    config: LabelConfig = LabelConfig(),
) -> pd.Series:
    """1.0 if the last score in the window is lower than the last one before the cutoff.

    Lower means by at least `drop_margin`, or (with `band_drop`) a band down. NaN where either
    score is missing: a customer nobody asked has an unknown label, not a happy one.
    """
    cutoff = utc_timestamp(cutoff)
    rows = active_customers(events, customers, cutoff)
    return _satisfaction_drop(events, rows, cutoff, config)


def make_labels(
    events: pd.DataFrame,
    customers: pd.DataFrame,
    cutoff: str | pd.Timestamp,
    config: LabelConfig = LabelConfig(),
) -> pd.DataFrame:
    """Both targets at one cutoff, one row per customer in the churn population.

    The rows are those of `churn_labels`: the active customers, and under inactivity churn only
    the ones active in the look-back (a lapsed customer is already gone).
    """
    cutoff = utc_timestamp(cutoff)
    churn = _churn(events, population(events, customers, cutoff, config), cutoff, config)
    drop = _satisfaction_drop(events, churn.index, cutoff, config)
    return pd.concat([churn, drop], axis=1)


def churn_times(
    events: pd.DataFrame,
    rows: pd.Index,
    cutoff: str | pd.Timestamp,
    end: str | pd.Timestamp,
    config: LabelConfig = LabelConfig(),
) -> pd.DataFrame:
    """Days from `cutoff` to each customer's churn, and whether it was seen before `end` (the
    time-to-event form of the churn label, for the rows of `population`).

    Contractual: the first cancel at or after the cutoff. Inactivity: the day a customer is
    declared lapsed, `horizon` days after the last activity before a gap of at least that
    long, so "churned within the horizon" is the fixed label. A churn not seen before `end`
    is censored at `end`: the customer counts as at risk until then, and no longer."""
    cutoff, end = utc_timestamp(cutoff), utc_timestamp(end)
    days = pd.Timedelta(days=1)
    span = (end - cutoff) / days
    if config.churn == "contractual":
        seen = events.loc[
            (events["event_type"] == "cancel").to_numpy()
            & (events["event_time"] >= cutoff).to_numpy()
            & (events["event_time"] < end).to_numpy()
        ]
        first = seen.groupby(_str_ids(seen["customer_id"]))["event_time"].min()
        at = ((first - cutoff) / days).reindex(rows)
    elif config.churn == "inactivity":
        at = _lapse_days(events, rows, cutoff, end, config)
    else:
        raise ValueError(f"unknown churn definition {config.churn!r}: use contractual/inactivity")
    event = at.notna().to_numpy()
    duration = np.where(event, at.to_numpy(dtype=float), span)
    return pd.DataFrame({"duration_days": duration, "event": event}, index=rows)


def churn_times_of(
    index: pd.MultiIndex,
    events: pd.DataFrame,
    end: str | pd.Timestamp,
    config: LabelConfig = LabelConfig(),
) -> pd.DataFrame:
    """`churn_times` of every row of a frame keyed (customer_id, cutoff), in its order."""
    parts = []
    for cutoff, rows in pd.Series(0, index=index).groupby(level="cutoff", sort=False):
        ids = pd.Index(rows.index.get_level_values("customer_id"), dtype=object)
        parts.append(churn_times(events, ids, cutoff, end, config).set_axis(rows.index))
    return pd.concat(parts).reindex(index)


def _lapse_days(
    events: pd.DataFrame,
    rows: pd.Index,
    cutoff: pd.Timestamp,
    end: pd.Timestamp,
    config: LabelConfig,
) -> pd.Series:
    """Days from `cutoff` to the first lapse (last activity + horizon, the next activity at
    least a horizon later or the gap running past `end` by then); NaN where none is seen."""
    horizon = config.horizon
    acts = events.loc[
        events["event_type"].isin(list(config.activity_types)).to_numpy()
        & (events["event_time"] < end).to_numpy(),
        ["customer_id", "event_time"],
    ]
    frame = pd.DataFrame(
        {"customer_id": _str_ids(acts["customer_id"]), "t": acts["event_time"].array}
    )
    frame = frame[frame["customer_id"].isin(rows)]
    before = frame["t"] < cutoff
    last = frame[before].groupby("customer_id")["t"].max()  # the activity the cutoff follows
    frame = pd.concat([last.reset_index(), frame[~before]], ignore_index=True)
    frame = frame.sort_values(["customer_id", "t"], kind="stable")
    following = frame.groupby("customer_id")["t"].shift(-1).fillna(end)
    lapse = frame["t"] + horizon
    lapsed = (following - frame["t"] >= horizon) & (lapse <= end)
    first = lapse[lapsed].groupby(frame.loc[lapsed, "customer_id"]).min()
    days = (first - cutoff) / pd.Timedelta(days=1)
    return days.clip(lower=0.0).reindex(rows)


def spend_between(
    events: pd.DataFrame,
    rows: pd.Index,
    start: str | pd.Timestamp,
    end: str | pd.Timestamp,
    types: tuple[str, ...] = ("purchase",),
) -> pd.Series:
    """Each customer's summed `value` of `types` events in [start, end): what they spent
    (0 for a customer of `rows` who spent nothing)."""
    start, end = utc_timestamp(start), utc_timestamp(end)
    times = events["event_time"]
    keep = (
        events["event_type"].isin(list(types)).to_numpy()
        & (times >= start).to_numpy()
        & (times < end).to_numpy()
    )
    bought = events.loc[keep]
    spent = bought["value"].astype(float).groupby(_str_ids(bought["customer_id"])).sum()
    return spent.reindex(rows, fill_value=0.0).rename("spend")


def label_inputs(
    events: pd.DataFrame, customers: pd.DataFrame, config: LabelConfig = LabelConfig()
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The only rows and columns the labels read, to slice once for many cutoffs.

    Missing signup times are filled with the first event, so `make_labels` on the result gives
    the same labels as on the full frames at every cutoff.
    """
    types = ["cancel", config.survey_type]
    if config.churn == "inactivity":
        types += list(config.activity_types)
    keep = events["event_type"].isin(types).to_numpy()
    columns = [c for c in ("customer_id", "event_time", "event_type", "value") if c in events]
    small = events.loc[keep, columns].reset_index(drop=True)
    start = start_times(events, customers)
    people = pd.DataFrame({"customer_id": start.index, "signup_time": start.array})
    return small, people
