"""Point-in-time features: a pure function of (events, customers, cutoff, config).

Only events strictly before the cutoff are read. Every windowed count is one `bincount` over a
combined (kind, customer, window bucket) index followed by a cumulative sum over buckets, so the
whole base is aggregated straight into a dense array with no pivot. The same function serves the
whole base in batch and one customer's history online.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from cxml.config import FeatureConfig
from cxml.data.schema import utc_timestamp
from cxml.data.validate import is_pii
from cxml.features.blocks import built_in_order
from cxml.features.catalog import FeatureInfo, Features, event_words, family_of
from cxml.features.sentiment import sentiment
from cxml.features.table import Table
from cxml.features.topics import topics_of
from cxml.features.visible import (
    NS_PER_DAY,
    NS_PER_HOUR,
    Events,
    Source,
    columns_of,
    customer_blocks,
    last_two,
    visible_events,
    windowed,
)

_info = lru_cache(maxsize=4096)(FeatureInfo)  # the same few hundred entries on every call


def _activity(out: Features, ev: Events, cfg: FeatureConfig, seen_days: np.ndarray) -> None:
    """Counts per event type and window, purchase amounts, recency, per-week rates, and
    30d-vs-prior-60d trends."""
    n, w = len(out.index), len(cfg.windows)
    kinds = [*cfg.counted_types, "other"]
    counts = windowed(ev, n, w, group=ev.kind, groups=len(kinds))
    risky = [kind in cfg.risk_types for kind in kinds]
    words = [event_words(kind, cfg.taxonomy.display(kind)) for kind in kinds]
    for k, kind in enumerate(kinds):
        for j, window in enumerate(cfg.windows):
            out.add(_event_info("count", kind, window, risky[k], words[k]), counts[:, k, j])
    is_amount = np.flatnonzero(ev.kind == cfg.counted_types.index(cfg.amount_type))
    amount = windowed(ev, n, w, is_amount, weights=np.nan_to_num(ev.value(is_amount)))[:, 0, :]
    for j, window in enumerate(cfg.windows):
        out.add(
            _info(
                f"amount_{cfg.amount_type}_{window}d",
                "monetary",
                window,
                f"{{value:.2f}} spent in the last {window} days",
                event_type=cfg.amount_type,
            ),
            amount[:, j],
        )
    longest = max(cfg.windows)
    youngest = np.full(n * len(kinds), np.inf)
    flat = np.multiply(ev.cust, len(kinds), dtype=np.intp)  # numpy's fast path
    flat += ev.kind
    np.minimum.at(youngest, flat, ev.age)
    recency = youngest.reshape(n, len(kinds))
    # None within the window reads as the window's length (censored there), not as missing: a
    # first event then only ever lowers the value, so the trees' direction holds for it too.
    recency[np.isinf(recency)] = float(longest)
    for k, kind in enumerate(kinds):
        out.add(_event_info("recency", kind, longest, risky[k], words[k]), recency[:, k])
    _rates(out, counts[:, :, -1], kinds, longest, seen_days, risky, words)
    i30, i90 = cfg.windows.index(30), cfg.windows.index(90)
    for kind in cfg.trend_types:
        k = kinds.index(kind)
        recent, before = counts[:, k, i30], (counts[:, k, i90] - counts[:, k, i30]) / 2
        out.add(
            _info(
                f"trend_{kind}_30d_vs_prior_60d",
                "trend",
                30,
                f"{words[k]} in the last 30 days at {{value:.1f}}x "
                "the monthly rate of the 60 days before",
                event_type=kind,
                direction=int(kind in cfg.risk_types),
            ),
            (recent + 1) / (before + 1),
        )


# Per-event-type measures: name, family (None: the event type's own) and template, where
# {words} names the events. Entries are made once per name (`_event_info`): formatting a name
# and its words on every call cost as much as computing one customer's value.
_EVENT_MEASURES = {
    "count": ("n_{kind}_{window}d", None, "{{value:.0f}} {words} in the last {window} days"),
    "recency": (
        "days_since_last_{kind}_{window}d",
        "recency",
        "{{value:.0f}} days since the last of the {words}",
    ),
    "rate": (
        "rate_{kind}_per_week_{window}d",
        None,
        "{{value:.1f}} {words} a week (last {window} days)",
    ),
}


@lru_cache(maxsize=1024)
def _event_info(measure: str, kind: str, window: int, risky: bool, words: str) -> FeatureInfo:
    """`risky`: an event type of FeatureConfig.risk_types (more of it, or more recently, never
    lowers a risk); `words`: how its events are called (`event_words`)."""
    name, family, template = _EVENT_MEASURES[measure]
    return FeatureInfo(
        name.format(kind=kind, window=window),
        family or family_of(kind),
        window,
        template.format(words=words, window=window),
        event_type=kind,
        direction=(-1 if measure == "recency" else 1) if risky else 0,
    )


@lru_cache(maxsize=1024)
def _channel_infos(channel: str, window: int, shown: str) -> tuple[FeatureInfo, FeatureInfo]:
    """The entries of a channel's count and share; `shown`: its name in words."""
    count = FeatureInfo(
        f"n_channel_{channel}_{window}d",
        "channel",
        window,
        f"{{value:.0f}} interactions via {shown} in the last {window} days",
        channel=channel,
    )
    share = FeatureInfo(
        f"share_channel_{channel}_{window}d",
        "channel",
        window,
        f"{{value:.0%}} of interactions via {shown} in the last {window} days",
        channel=channel,
    )
    return count, share


def _rates(
    out: Features,
    counts: np.ndarray,
    kinds: list[str],
    window: int,
    seen_days: np.ndarray,
    risky: list[bool],
    words: list[str],
) -> None:
    """Events per week of the longest window the customer was there for (and the log shows):
    a habit's level (how often someone logs in) that raw counts blur with tenure and with the
    log's start, so a new customer's 12 logins in a month read as the frequent user they are."""
    weeks = np.clip(seen_days, 7, window) / 7
    rates = counts / weeks[:, None]
    for k, kind in enumerate(kinds):
        out.add(
            _event_info("rate", kind, window, risky[k], words[k]),
            rates[:, k],
        )


def _channels(out: Features, ev: Events, cfg: FeatureConfig) -> None:
    n, w = len(out.index), len(cfg.windows)
    names = [*cfg.counted_channels, "other"]
    has_channel = ev.channel >= 0
    rows = None if has_channel.all() else np.flatnonzero(has_channel)
    counts = windowed(
        ev, n, w, rows, group=ev.channel if rows is None else ev.channel[rows], groups=len(names)
    )
    for window in cfg.channel_windows:
        j = cfg.windows.index(window)
        total = counts[:, :, j].sum(axis=1)[:, None]
        shares = np.where(total > 0, counts[:, :, j] / np.maximum(total, 1), np.nan)
        for c, channel in enumerate(names):
            shown = cfg.taxonomy.display(channel) or channel.replace("_", " ")
            count, share = _channel_infos(channel, window, shown)
            out.add(count, counts[:, c, j])
            out.add(share, shares[:, c])


def _support(out: Features, ev: Events, cfg: FeatureConfig, cutoff: pd.Timestamp) -> None:
    """Unresolved *as of the cutoff*: a ticket resolved after the cutoff was still open then."""
    n, w = len(out.index), len(cfg.windows)
    rows = np.flatnonzero(ev.kind == cfg.counted_types.index(cfg.ticket_type))
    hours_taken = ev.value(rows)
    resolved_at = ev.time_ns[rows] + np.nan_to_num(hours_taken, nan=np.inf) * NS_PER_HOUR
    open_ = np.isnan(hours_taken) | (resolved_at >= cutoff.value)
    unresolved = windowed(ev, n, w, rows, weights=open_.astype(float))[:, 0, :]
    hours = windowed(ev, n, w, rows, weights=np.where(open_, 0.0, hours_taken))[:, 0, :]
    n_closed = windowed(ev, n, w, rows, weights=(~open_).astype(float))[:, 0, :]
    for j, window in enumerate(cfg.windows):
        out.add(
            _info(
                f"n_unresolved_ticket_{window}d",
                "support",
                window,
                f"{{value:.0f}} support tickets from the last {window} days still unresolved",
                event_type=cfg.ticket_type,
                direction=int(cfg.ticket_type in cfg.risk_types),
            ),
            unresolved[:, j],
        )
    j = cfg.windows.index(90)
    out.add(
        _info(
            "mean_resolution_hours_90d",
            "support",
            90,
            "support tickets took {value:.0f} hours to resolve on average (last 90 days)",
            event_type=cfg.ticket_type,
        ),
        np.where(n_closed[:, j] > 0, hours[:, j] / np.maximum(n_closed[:, j], 1), np.nan),
    )


def _voice(out: Features, ev: Events, cfg: FeatureConfig) -> None:
    """Last and average NPS and CSAT, change since the previous survey, band, and comment
    sentiment."""
    n, longest = len(out.index), max(cfg.windows)
    for survey, label in ((cfg.nps_type, "nps"), (cfg.csat_type, "csat")):
        if survey not in cfg.counted_types:
            continue
        rows = np.flatnonzero(ev.kind == cfg.counted_types.index(survey))
        scores = ev.value(rows)
        answered = ~np.isnan(scores)
        rows, scores = rows[answered], scores[answered]
        last, prev, _ = last_two(ev, rows, n)
        answers = np.bincount(ev.cust[rows], minlength=n)
        total = np.bincount(ev.cust[rows], weights=scores, minlength=n)
        out.add(
            _info(
                f"{label}_mean_{longest}d",
                "voice",
                longest,
                f"average {label.upper()} score {{value:.1f}} over the last {longest} days",
                event_type=survey,
            ),
            np.where(answers > 0, total / np.maximum(answers, 1), np.nan),
        )
        out.add(
            _info(
                f"{label}_last_{longest}d",
                "voice",
                longest,
                f"last {label.upper()} score {{value:.0f}}",
                event_type=survey,
            ),
            last,
        )
        out.add(
            _info(
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
                _info(
                    f"nps_band_{longest}d",
                    "voice",
                    longest,
                    "NPS band {value:.0f} (0 detractor, 1 passive, 2 promoter)",
                    event_type=survey,
                ),
                band,
            )
    window = cfg.text_window
    score = sentiment(ev.text)
    known = ~np.isnan(score)
    cust = ev.cust[ev.text_at[known]]
    total = np.bincount(cust, weights=score[known], minlength=n)
    count = np.bincount(cust, minlength=n)
    out.add(
        _info(
            f"comment_sentiment_{window}d",
            "voice",
            window,
            f"comments in the last {window} days read {{value:+.1f}} "
            "on a -1 (negative) to +1 (positive) scale",
        ),
        np.where(count > 0, total / np.maximum(count, 1), np.nan),
    )
    if cfg.topics or cfg.topic_examples or cfg.topic_model:
        _topics(out, ev, cfg, n)


def _topics(out: Features, ev: Events, cfg: FeatureConfig, n: int) -> None:
    """Per topic, how many of the customer's texts of the text window are about it: by the
    classifier learned from labelled examples when there are some, else by the seed phrases
    (features/topics.py)."""
    window = cfg.text_window
    names, about = topics_of(ev.text, cfg)
    for topic in names:
        rows = np.flatnonzero(about == topic)
        counts = np.bincount(ev.cust[ev.text_at[rows]], minlength=n).astype(float)
        words = topic.replace("_", " ")
        out.add(
            _info(
                f"n_topic_{topic}_{window}d",
                "voice",
                window,
                f"{{value:.0f}} comments about {words} in the last {window} days",
            ),
            counts,
        )


def _tenure_days(customers: Mapping[str, Any], cutoff: pd.Timestamp) -> np.ndarray | None:
    """Days from signup to the cutoff (NaN when unknown or not yet signed up); None without
    a signup_time column."""
    if "signup_time" not in customers:
        return None
    signup = customers["signup_time"]
    if not isinstance(signup.dtype, pd.DatetimeTZDtype):
        signup = pd.to_datetime(signup, utc=True)
    signup_ns = signup.asi8.astype(float)  # tz-aware times are stored as UTC ns
    signup_ns[pd.isna(signup)] = np.nan
    days = (cutoff.value - signup_ns) / NS_PER_DAY
    return np.where(days > 0, days, np.nan)


def _profile(
    out: Features, customers: Mapping[str, Any], tenure: np.ndarray | None, cfg: FeatureConfig
) -> None:
    if tenure is not None:
        out.add(_info("tenure_days", "tenure", None, "customer for {value:.0f} days"), tenure)
    names = list(customers)
    pii = dict(zip(names, is_pii(names, cfg.pii_columns), strict=True))
    for column, array in customers.items():
        if column in ("customer_id", "signup_time") or pii[column]:
            continue
        values = np.asarray(array)
        out.add(
            _info(f"profile_{column}", "profile", None, f"{column.replace('_', ' ')}: {{value}}"),
            values,
        )


#: Customers a feature build takes at once (`build_features`): the arrays of the events it can
#: see are made per block, so a big base's build holds a few blocks', not all of them at once.
BLOCK_CUSTOMERS = 25_000
#: Blocks built at once, each on a thread of its own (`blocks.built_in_order`). A base of fewer
#: than two blocks' worth is split in `THREADS` blocks.
THREADS = 2
#: The fewest customers worth a block (and a thread) of their own: a few customers' build (a
#: request's) is quicker in one piece.
MIN_BLOCK = 10_000


def build_features(
    events: Source,
    customers: Source,
    cutoff: str | pd.Timestamp,
    config: FeatureConfig | None = None,
    since: pd.Timestamp | None = None,
    block_customers: int = BLOCK_CUSTOMERS,
    threads: int = THREADS,
) -> Features:
    """One row per customer in `customers`, from events strictly before `cutoff` only: the
    feature columns with their catalog entries (`.frame()` for a DataFrame, `.catalog()`).
    `since`: when the event log starts (`log_start`): rates are per week of what the log
    shows of a customer, so a cutoff soon after it starts does not read as a quiet customer.
    Built in blocks of at most `block_customers` customers (a customer's features read only
    their own events), `threads` blocks at a time, put together in the customers' order."""
    cfg = config or FeatureConfig()
    cut = utc_timestamp(cutoff)
    people = Table.of(customers)
    ids = pd.Index(_as_strings(people.columns["customer_id"]), name="customer_id")
    event_columns = columns_of(events)
    size = min(block_customers, max(-(-len(ids) // threads), MIN_BLOCK))

    def build(block: slice, rows: np.ndarray, cust: np.ndarray) -> Features:
        ev = visible_events(event_columns, rows, cust, len(ids[block]), cut, cfg)
        return _block(ev, people.take(block).columns, ids[block], cut, cfg, since)

    blocks = customer_blocks(event_columns, ids, cut, cfg, size)
    if len(ids) <= size:
        return build(*next(blocks))
    return Features.concat(built_in_order(build, blocks, threads), len(ids))


def _block(
    ev: Events,
    columns: Mapping[str, Any],
    ids: pd.Index,
    cut: pd.Timestamp,
    cfg: FeatureConfig,
    since: pd.Timestamp | None,
) -> Features:
    """The features of the customers `ids` (`columns`: their customers rows) from `ev`, the
    events they can see."""
    out = Features(ids)
    tenure = _tenure_days(columns, cut)
    longest = max(cfg.windows)
    observed = np.inf if since is None else (cut.value - since.value) / NS_PER_DAY
    seen_days = (
        np.full(len(ids), float(longest)) if tenure is None else np.nan_to_num(tenure, nan=longest)
    )
    seen_days = np.minimum(seen_days, max(observed, 1.0))
    _activity(out, ev, cfg, seen_days)
    _support(out, ev, cfg, cut)
    _voice(out, ev, cfg)
    _channels(out, ev, cfg)
    _profile(out, columns, tenure, cfg)
    return out


def _as_strings(ids: Any) -> np.ndarray:
    values = np.asarray(ids, dtype=object)
    if pd.api.types.infer_dtype(values, skipna=False) != "string":
        values = values.astype(str).astype(object)
    return values


def log_start(events: pd.DataFrame) -> pd.Timestamp | None:
    """When the event log starts (its first event, UTC): what `build_features`' `since` takes
    for a data dir's whole history. None for an empty log."""
    if len(events) == 0:
        return None
    return utc_timestamp(pd.Timestamp(events["event_time"].min()))


def feature_catalog(customers: pd.DataFrame, config: FeatureConfig | None = None) -> pd.DataFrame:
    """The catalog for a customers table's columns, without computing any feature."""
    empty = pd.DataFrame(
        {
            "customer_id": pd.Series([], dtype=object),
            "event_time": pd.Series([], dtype="datetime64[ns, UTC]"),
            "event_type": pd.Series([], dtype=object),
        }
    )
    return build_features(empty, customers.head(0), "2000-01-01", config).catalog()
