"""Point-in-time features: a pure function of (events, customers, cutoff, config).

Only events strictly before the cutoff are read. Every windowed count is one `bincount` over a
combined (customer, kind, window bucket) index followed by a cumulative sum over buckets, so the
whole base is aggregated straight into a dense array with no pivot. The same function serves the
whole base in batch and one customer's history online.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cxml.data.schema import utc_timestamp
from cxml.features.catalog import FeatureInfo, Features, event_words, family_of
from cxml.features.config import FeatureConfig
from cxml.features.sentiment import sentiment

NS_PER_DAY = 86_400 * 10**9
NS_PER_HOUR = 3_600 * 10**9


@dataclass
class _Events:
    """The events that can be seen at the cutoff, as aligned numpy arrays."""

    cust: np.ndarray  # index into the customers frame
    age: np.ndarray  # days before the cutoff, > 0
    bucket: np.ndarray  # index of the smallest window holding the event
    kind: np.ndarray  # index into config.event_types, len(event_types) = other
    channel: np.ndarray  # index into config.channels, len(channels) = other, -1 = missing
    value: np.ndarray
    text: np.ndarray | None
    time_ns: np.ndarray


def _codes(series: pd.Series, vocabulary: pd.Index) -> np.ndarray:
    """Position of each value in `vocabulary`, -1 when absent; fast for categoricals."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        lookup = vocabulary.get_indexer(series.cat.categories.astype(str))
        codes = series.cat.codes.to_numpy()
        return np.where(codes >= 0, lookup[codes], -1)
    return vocabulary.get_indexer(series.astype(object))


def _visible(events: pd.DataFrame, ids: pd.Index, cutoff: pd.Timestamp, cfg: FeatureConfig):
    time_ns = events["event_time"].array.asi8  # UTC nanoseconds, no per-row objects
    age = (cutoff.value - time_ns) / NS_PER_DAY
    keep = (age > 0) & (age <= max(cfg.windows))
    cust = _codes(events["customer_id"], ids)
    keep &= cust >= 0
    rows = np.flatnonzero(keep)
    kinds = _codes(events["event_type"].iloc[rows], pd.Index(cfg.event_types))
    kinds = np.where(kinds < 0, len(cfg.event_types), kinds)
    if "channel" in events:
        channel_col = events["channel"].iloc[rows]
        chan = _codes(channel_col, pd.Index(cfg.channels))
        chan = np.where((chan < 0) & channel_col.notna().to_numpy(), len(cfg.channels), chan)
    else:
        chan = np.full(len(rows), -1)
    value = (
        events["value"].to_numpy(dtype=float)[rows]
        if "value" in events
        else np.full(len(rows), np.nan)
    )
    text = events["text"].to_numpy(dtype=object)[rows] if "text" in events else None
    age = age[rows]
    bucket = np.searchsorted(np.asarray(cfg.windows, dtype=float), age, side="left")
    return _Events(cust[rows], age, bucket, kinds, chan, value, text, time_ns[rows])


def _windowed(
    ev: _Events,
    n: int,
    groups: int,
    group: np.ndarray,
    n_windows: int,
    weights: np.ndarray | None = None,
    rows: np.ndarray | None = None,
) -> np.ndarray:
    """(customers, groups, windows) totals; window w holds everything up to its length."""
    cust, bucket = ev.cust, ev.bucket
    if rows is not None:
        cust, bucket, group = cust[rows], bucket[rows], group[rows]
        weights = None if weights is None else weights[rows]
    key = (cust * groups + group) * n_windows + bucket
    flat = np.bincount(key, weights=weights, minlength=n * groups * n_windows)
    return flat.reshape(n, groups, n_windows).cumsum(axis=2)


def _last_two(ev: _Events, rows: np.ndarray, n: int) -> tuple[np.ndarray, ...]:
    """Per customer: last value, previous value, and age of the last, among `rows`."""
    last, prev, age = np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
    if len(rows):
        order = rows[np.lexsort((-ev.age[rows], ev.cust[rows]))]  # oldest first per customer
        cust = ev.cust[order]
        is_last = np.r_[cust[1:] != cust[:-1], True]
        last_rows = np.flatnonzero(is_last)
        last[cust[last_rows]] = ev.value[order[last_rows]]
        age[cust[last_rows]] = ev.age[order[last_rows]]
        has_prev = last_rows[(last_rows > 0)]
        has_prev = has_prev[cust[has_prev - 1] == cust[has_prev]]
        prev[cust[has_prev]] = ev.value[order[has_prev - 1]]
    return last, prev, age


def _activity(out: Features, ev: _Events, cfg: FeatureConfig) -> None:
    """Counts per event type and window, purchase amounts, recency, and 30d-vs-prior-60d trends."""
    n, w = len(out.index), len(cfg.windows)
    kinds = [*cfg.event_types, "other"]
    counts = _windowed(ev, n, len(kinds), ev.kind, w)
    for k, kind in enumerate(kinds):
        for j, window in enumerate(cfg.windows):
            out.add(
                FeatureInfo(
                    f"n_{kind}_{window}d",
                    family_of(kind),
                    window,
                    f"{{value:.0f}} {event_words(kind)} in the last {window} days",
                    event_type=kind,
                ),
                counts[:, k, j],
            )
    is_amount = np.flatnonzero(ev.kind == cfg.event_types.index(cfg.amount_type))
    zero = np.zeros(len(ev.cust), dtype=np.int64)
    amount = _windowed(ev, n, 1, zero, w, np.nan_to_num(ev.value), is_amount)[:, 0, :]
    for j, window in enumerate(cfg.windows):
        out.add(
            FeatureInfo(
                f"amount_{cfg.amount_type}_{window}d",
                "monetary",
                window,
                f"{{value:.2f}} spent in the last {window} days",
                event_type=cfg.amount_type,
            ),
            amount[:, j],
        )
    longest = max(cfg.windows)
    recency = np.full((n, len(kinds)), np.inf)
    np.minimum.at(recency, (ev.cust, ev.kind), ev.age)
    for k, kind in enumerate(kinds):
        out.add(
            FeatureInfo(
                f"days_since_last_{kind}_{longest}d",
                "recency",
                longest,
                f"{{value:.0f}} days since the last of the {event_words(kind)} "
                f"(none in {longest} days: empty)",
                event_type=kind,
            ),
            np.where(np.isinf(recency[:, k]), np.nan, recency[:, k]),
        )
    i30, i90 = cfg.windows.index(30), cfg.windows.index(90)
    for kind in cfg.trend_types:
        k = kinds.index(kind)
        recent, before = counts[:, k, i30], (counts[:, k, i90] - counts[:, k, i30]) / 2
        out.add(
            FeatureInfo(
                f"trend_{kind}_30d_vs_prior_60d",
                "trend",
                30,
                f"{event_words(kind)} in the last 30 days at {{value:.1f}}x "
                "the monthly rate of the 60 days before",
                event_type=kind,
            ),
            (recent + 1) / (before + 1),
        )


def _channels(out: Features, ev: _Events, cfg: FeatureConfig) -> None:
    n, w = len(out.index), len(cfg.windows)
    names = [*cfg.channels, "other"]
    counts = _windowed(ev, n, len(names), ev.channel, w, rows=np.flatnonzero(ev.channel >= 0))
    for window in cfg.channel_windows:
        j = cfg.windows.index(window)
        total = counts[:, :, j].sum(axis=1)
        for c, channel in enumerate(names):
            out.add(
                FeatureInfo(
                    f"n_channel_{channel}_{window}d",
                    "channel",
                    window,
                    f"{{value:.0f}} interactions via {channel} in the last {window} days",
                    channel=channel,
                ),
                counts[:, c, j],
            )
            out.add(
                FeatureInfo(
                    f"share_channel_{channel}_{window}d",
                    "channel",
                    window,
                    f"{{value:.0%}} of interactions via {channel} in the last {window} days",
                    channel=channel,
                ),
                np.where(total > 0, counts[:, c, j] / np.maximum(total, 1), np.nan),
            )


def _support(out: Features, ev: _Events, cfg: FeatureConfig, cutoff: pd.Timestamp) -> None:
    """Unresolved *as of the cutoff*: a ticket resolved after the cutoff was still open then."""
    n, w = len(out.index), len(cfg.windows)
    rows = np.flatnonzero(ev.kind == cfg.event_types.index(cfg.ticket_type))
    hours_taken = ev.value[rows]
    resolved_at = ev.time_ns[rows] + np.nan_to_num(hours_taken, nan=np.inf) * NS_PER_HOUR
    open_ = np.isnan(hours_taken) | (resolved_at >= cutoff.value)
    weights = np.zeros(len(ev.cust))
    zero = np.zeros(len(ev.cust), dtype=np.int64)
    weights[rows] = open_
    unresolved = _windowed(ev, n, 1, zero, w, weights, rows)[:, 0, :]
    weights[rows] = np.where(open_, 0.0, hours_taken)
    hours = _windowed(ev, n, 1, zero, w, weights, rows)[:, 0, :]
    weights[rows] = ~open_
    n_closed = _windowed(ev, n, 1, zero, w, weights, rows)[:, 0, :]
    for j, window in enumerate(cfg.windows):
        out.add(
            FeatureInfo(
                f"n_unresolved_ticket_{window}d",
                "support",
                window,
                f"{{value:.0f}} support tickets from the last {window} days still unresolved",
                event_type=cfg.ticket_type,
            ),
            unresolved[:, j],
        )
    j = cfg.windows.index(90)
    out.add(
        FeatureInfo(
            "mean_resolution_hours_90d",
            "support",
            90,
            "support tickets took {value:.0f} hours to resolve on average (last 90 days)",
            event_type=cfg.ticket_type,
        ),
        np.where(n_closed[:, j] > 0, hours[:, j] / np.maximum(n_closed[:, j], 1), np.nan),
    )


def _voice(out: Features, ev: _Events, cfg: FeatureConfig) -> None:
    """Last NPS and CSAT, change since the previous survey, band, and comment sentiment."""
    n, longest = len(out.index), max(cfg.windows)
    for survey, label in ((cfg.nps_type, "nps"), (cfg.csat_type, "csat")):
        if survey not in cfg.event_types:
            continue
        rows = np.flatnonzero((ev.kind == cfg.event_types.index(survey)) & ~np.isnan(ev.value))
        last, prev, _ = _last_two(ev, rows, n)
        out.add(
            FeatureInfo(
                f"{label}_last_{longest}d",
                "voice",
                longest,
                f"last {label.upper()} score {{value:.0f}}",
                event_type=survey,
            ),
            last,
        )
        out.add(
            FeatureInfo(
                f"{label}_change_{longest}d",
                "voice",
                longest,
                f"{label.upper()} changed by {{value:+.0f}} since the previous survey",
                event_type=survey,
            ),
            last - prev,
        )
        if label == "nps":
            band = np.where(
                np.isnan(last), np.nan, np.where(last >= 9, 2.0, np.where(last >= 7, 1.0, 0.0))
            )
            out.add(
                FeatureInfo(
                    f"nps_band_{longest}d",
                    "voice",
                    longest,
                    "NPS band {value:.0f} (0 detractor, 1 passive, 2 promoter)",
                    event_type=survey,
                ),
                band,
            )
    window = cfg.text_window
    score = np.full(len(ev.cust), np.nan)
    if ev.text is not None:
        has_text = np.flatnonzero((ev.age <= window) & pd.notna(ev.text))
        score[has_text] = sentiment(ev.text[has_text])
    known = ~np.isnan(score)
    total = np.bincount(ev.cust[known], weights=score[known], minlength=n)
    count = np.bincount(ev.cust[known], minlength=n)
    out.add(
        FeatureInfo(
            f"comment_sentiment_{window}d",
            "voice",
            window,
            f"comments in the last {window} days read {{value:+.1f}} "
            "on a -1 (negative) to +1 (positive) scale",
        ),
        np.where(count > 0, total / np.maximum(count, 1), np.nan),
    )


def _profile(
    out: Features, customers: pd.DataFrame, cutoff: pd.Timestamp, cfg: FeatureConfig
) -> None:
    if "signup_time" in customers:
        signup = customers["signup_time"]
        if not isinstance(signup.dtype, pd.DatetimeTZDtype):
            signup = pd.to_datetime(signup, utc=True)
        days = ((cutoff - signup).dt.total_seconds() / 86_400).to_numpy(dtype=float)
        out.add(
            FeatureInfo("tenure_days", "tenure", None, "customer for {value:.0f} days"),
            np.where(days > 0, days, np.nan),
        )
    skip = {"customer_id", "signup_time", *cfg.pii_columns}
    for column in customers.columns:
        if column in skip:
            continue
        values = customers[column].to_numpy()
        out.add(
            FeatureInfo(
                f"profile_{column}", "profile", None, f"{column.replace('_', ' ')}: {{value}}"
            ),
            values,
        )


def build_features(
    events: pd.DataFrame,
    customers: pd.DataFrame,
    cutoff: str | pd.Timestamp,
    config: FeatureConfig | None = None,
) -> pd.DataFrame:
    """One row per customer in `customers`, from events strictly before `cutoff` only."""
    return _build(events, customers, cutoff, config).frame()


def build_features_with_catalog(
    events: pd.DataFrame,
    customers: pd.DataFrame,
    cutoff: str | pd.Timestamp,
    config: FeatureConfig | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The features and the catalog describing each column (same names, same order)."""
    out = _build(events, customers, cutoff, config)
    return out.frame(), out.catalog()


def _build(
    events: pd.DataFrame,
    customers: pd.DataFrame,
    cutoff: str | pd.Timestamp,
    config: FeatureConfig | None,
) -> Features:
    cfg = config or FeatureConfig()
    cut = utc_timestamp(cutoff)
    ids = pd.Index(customers["customer_id"].astype(str).to_numpy(), name="customer_id")
    ev = _visible(events, ids, cut, cfg)
    out = Features(ids)
    _activity(out, ev, cfg)
    _support(out, ev, cfg, cut)
    _voice(out, ev, cfg)
    _channels(out, ev, cfg)
    _profile(out, customers.reset_index(drop=True), cut, cfg)
    return out


def feature_catalog(customers: pd.DataFrame, config: FeatureConfig | None = None) -> pd.DataFrame:
    """The catalog for a customers table's columns, without computing any feature."""
    empty = pd.DataFrame(
        {
            "customer_id": pd.Series([], dtype=object),
            "event_time": pd.Series([], dtype="datetime64[ns, UTC]"),
            "event_type": pd.Series([], dtype=object),
        }
    )
    return build_features_with_catalog(empty, customers.head(0), "2000-01-01", config)[1]
