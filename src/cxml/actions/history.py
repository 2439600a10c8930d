"""A customer's contact history as columns of their own row, and back to a log.

Eligibility reads the actions log (cooldowns, contact caps; see `policy.eligible`). A model that
gets one table of customers per call (an exported model) cannot also get the log, so the log is
summarised per customer at the cutoff: when each action with a cooldown was last logged, and
how many contacts each channel had within the contact period. `history_log` turns those columns
back into a small log that `eligible` reads with the same outcome as the full one, so the rule
itself stays defined once.

The uplift model reads the same history (`contact_features`): per action, the days since the
customer last got it. An action that worked weeks ago can leave little for a second one to do
(on the simulator, an education e-mail 16 weeks after a first one saves almost no one), which
no event feature shows.
"""

from __future__ import annotations

from typing import NamedTuple, overload

import numpy as np
import pandas as pd

from cxml.actions.policy import PastLog, past_log
from cxml.config import ActionsConfig
from cxml.data.schema import utc_timestamp
from cxml.features.catalog import FeatureInfo, Features
from cxml.features.table import Table

#: A contact counted in a channel's column: not an action of any catalog (it still counts).
CONTACT = "(contact)"
#: The channel of a rebuilt cooldown row: none, as its contact is already in the counts.
NOT_COUNTED = "(counted apart)"
#: The uplift model's contact columns: `days_since_action_<action>`.
CONTACT_PREFIX = "days_since_action_"


class HistoryColumn(NamedTuple):
    name: str
    kind: str  # "last": when `key` (an action) was last logged; "contacts": on channel `key`
    key: str
    days: int  # the action's cooldown or the contact period


def history_columns(config: ActionsConfig) -> list[HistoryColumn]:
    """The history columns eligibility and the uplift model need: a last time per action with
    a cooldown, or per action when the uplift model sees the contact history (`last_<action>_at`,
    kept for the longer of the two), and a contact count per channel of the catalog under a
    contact policy (`contacts_<channel>_<period>d`)."""
    seen = config.contact_history_days
    found = [
        HistoryColumn(f"last_{a.name}_at", "last", a.name, max(a.cooldown_days, seen))
        for a in config.catalog
        if a.cooldown_days > 0 or seen > 0
    ]
    if config.contact is not None:
        days = config.contact.period_days
        for channel in dict.fromkeys(a.channel for a in config.catalog):
            found.append(HistoryColumn(f"contacts_{channel}_{days}d", "contacts", channel, days))
    return found


def contact_history(
    log: pd.DataFrame | None, ids: pd.Index, config: ActionsConfig, at: str | pd.Timestamp
) -> pd.DataFrame:
    """The history columns of customers `ids` at `at`, from the actions log: a last time older
    than the column's days (the cooldown, or the uplift model's look-back) is left empty."""
    at = utc_timestamp(at)
    catalog, contact = config.catalog, config.contact
    window = max([a.cooldown_days for a in catalog] + [contact.period_days if contact else 0])
    past = past_log(log, catalog, at, max(window, config.contact_history_days), config.control)
    at64 = at.tz_convert(None).to_datetime64()
    where = past.where(ids)
    columns: dict[str, object] = {}
    for column in history_columns(config):
        recent = past.since(at64, column.days)
        if column.kind == "contacts":
            columns[column.name] = past.per_customer(recent & (past.channel == column.key), where)
            continue
        times = _last_times(past, recent & (past.action == column.key), where)
        columns[column.name] = pd.DatetimeIndex(times).tz_localize("UTC")
    return pd.DataFrame(columns, index=ids)


def _last_times(past: PastLog, rows: np.ndarray, where: np.ndarray) -> np.ndarray:
    """Per customer (their position in the log's ids, `where`), the latest time among the
    selected log rows (a boolean mask); NaT for none (naive UTC datetime64[ns])."""
    rows = rows & (past.who >= 0)
    last = pd.Series(past.time[rows]).groupby(past.who[rows]).max()
    mine = where >= 0
    times = np.full(len(where), np.datetime64("NaT"), dtype="datetime64[ns]")
    times[mine] = last.reindex(where[mine]).to_numpy(dtype="datetime64[ns]")
    return times


def contact_infos(config: ActionsConfig) -> list[FeatureInfo]:
    """The catalog entries of the uplift model's contact columns (none when it sees none): what
    an action's reason says when a contact drives its effect."""
    days = config.contact_history_days
    if days <= 0:
        return []
    return [
        FeatureInfo(
            f"{CONTACT_PREFIX}{a.name}",
            "contact",
            days,
            f"{{value:.0f}} days since the last {a.name.replace('_', ' ')} (counted up to {days})",
        )
        for a in config.catalog
    ]


def contact_features(
    log: pd.DataFrame | None, ids: pd.Index, config: ActionsConfig, at: str | pd.Timestamp
) -> Features:
    """Per action of the catalog, the days from each customer's last logged one (strictly
    before `at`) to `at`, within `contact_history_days`; none in that time reads as that many
    days (censored there, as the event recency features are), so fewer days only ever means a
    more recent contact."""
    out, infos = Features(ids), contact_infos(config)
    if not infos:
        return out
    at = utc_timestamp(at)
    days = config.contact_history_days
    past = past_log(log, config.catalog, at, days, config.control)
    at64 = at.tz_convert(None).to_datetime64()
    where = past.where(ids)
    for info, action in zip(infos, config.catalog, strict=True):
        last = _last_times(past, past.action == action.name, where)
        age = (at64 - last) / np.timedelta64(1, "D")  # NaT: NaN
        out.add(info, np.where(np.isnan(age), float(days), age))
    return out


@overload
def with_contacts(
    features: Table, log: pd.DataFrame | None, config: ActionsConfig, at: str | pd.Timestamp
) -> Table: ...


@overload
def with_contacts(
    features: pd.DataFrame, log: pd.DataFrame | None, config: ActionsConfig, at: str | pd.Timestamp
) -> pd.DataFrame: ...


def with_contacts(
    features: Table | pd.DataFrame,
    log: pd.DataFrame | None,
    config: ActionsConfig,
    at: str | pd.Timestamp,
) -> Table | pd.DataFrame:
    """The uplift model's inputs: `features` (rows named by customer id) and their customers'
    contact columns at `at` (`contact_features`), as the same kind of table."""
    found = contact_features(log, pd.Index(features.index), config, at)
    if not found.columns:
        return features
    if isinstance(features, pd.DataFrame):
        return features.assign(**found.columns)
    if isinstance(features, Features):
        both = features.columns | found.columns
        return Features(features.index, both, [*features.infos, *found.infos])
    return Table(features.index, features.columns | found.columns)


def history_log(
    history: pd.DataFrame, ids: pd.Index, config: ActionsConfig, at: str | pd.Timestamp
) -> pd.DataFrame:
    """A log that `eligible` reads as it reads the log `history` summarises: a row per action's
    last time (on no channel, as that contact is in the counts), and per channel as many rows
    as the count says, just before `at`. An empty last time or count: none."""
    at = utc_timestamp(at)
    parts = []
    for column in history_columns(config):
        values = history[column.name]
        if column.kind == "last":
            times = pd.DatetimeIndex(pd.to_datetime(values, utc=True))
            known = ~np.asarray(times.isna())
            parts.append(_rows(ids[known], times[known], column.key, NOT_COUNTED))
        else:
            counts = _counts(values, column.name)
            just_before = pd.DatetimeIndex([at - pd.Timedelta(seconds=1)] * int(counts.sum()))
            parts.append(_rows(ids.repeat(counts), just_before, CONTACT, column.key))
    if not parts:
        return pd.DataFrame(columns=["customer_id", "action_time", "action", "channel"])
    return pd.concat(parts, ignore_index=True)


def _rows(ids: pd.Index, times: pd.DatetimeIndex, action: str, channel: str) -> pd.DataFrame:
    frame = pd.DataFrame({"customer_id": ids.to_numpy(), "action_time": times})
    return frame.assign(action=action, channel=channel)


def _counts(values: pd.Series, name: str) -> np.ndarray:
    """Whole non-negative counts (empty: 0), or an error naming the column and the value."""
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    given = np.asarray(pd.notna(values), dtype=bool)
    with np.errstate(invalid="ignore"):
        bad = given & ~((numbers >= 0) & (numbers == np.floor(numbers)) & np.isfinite(numbers))
    if bad.any():
        raise ValueError(
            f"column {name}: {values[bad].iloc[0]} is not a count of contacts; give a whole "
            "number >= 0 (empty: none)"
        )
    return np.where(given, numbers, 0).astype(np.int64)
