"""One customer as the page shows them: scores, reasons, the recommended action and the runner-up,
every interaction before the cutoff (newest first; those behind a reason marked), and the
actions the customer already received. Built for many customers at once (the static folder
holds everyone's) and for one (the server builds it when asked). Pure.

An interaction is behind a reason when the reason is about its kind of event (by the reason's
family, e.g. support: tickets and complaints, or because it names the events, "days since the
last of the logins", or the channel, "interactions via call centre") and it falls in the
reason's window ("in the last 90 days"), read from the scored list's own columns, so the marks
agree with what scored.csv says.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from cxml.data.schema import utc_timestamp
from cxml.data.validate import contact_details_masked
from cxml.features.catalog import event_words, one
from cxml.features.sentiment import sentiment
from cxml.report.ui import action_words, json_value

#: Reason families that are about events of these (built-in) types.
FAMILY_TYPES = {
    "support": ("support_ticket", "complaint"),
    "payment": ("payment_failed",),
    "voice": ("survey_nps", "survey_csat"),
    "monetary": ("purchase",),
}
_WINDOW = re.compile(r"last (\d+) days")


def _about(reason: str, family: str, role: str, shown: str, channel: str) -> bool:
    """The reason is about events of this role (shown as `shown`) or this channel."""
    if role in FAMILY_TYPES.get(family, ()):
        return True
    words = event_words(role, shown or None)
    if words in reason or one(f"1 {words}")[2:] in reason:
        return True
    return bool(channel) and f"via {channel.replace('_', ' ')}" in reason


def _marks(events: pd.DataFrame, listing: pd.DataFrame, at: pd.Timestamp) -> np.ndarray:
    """Per event (rows of `events`, customers of `listing`), whether a reason is about it:
    decided once per distinct reason and kind of event, then looked up per event."""
    marked = np.zeros(len(events), dtype=bool)
    if not len(events):
        return marked
    place = pd.Index(listing["customer_id"]).get_indexer(events["customer_id"])
    kinds = pd.MultiIndex.from_arrays(
        [events["role"], events["event_type"], events["channel"].fillna("")]
    )
    codes, combos = kinds.factorize()
    age = (at - events["event_time"]).dt.total_seconds().to_numpy() / 86400
    for slot in range(3):
        pairs = [
            (r[slot], f[slot]) if len(r) > slot else ("", "")
            for r, f in zip(listing["reasons"], listing["families"], strict=True)
        ]
        reason, distinct = pd.factorize(pd.Series(pairs, dtype=object))
        about = np.array(
            [[bool(t) and _about(t, f, *_shown(c)) for c in combos] for t, f in distinct],
            dtype=bool,
        ).reshape(len(distinct), len(combos))
        windows = np.array([_window(t) for t, _ in distinct])
        row = reason[place]
        marked |= about[row, codes] & (age <= windows[row])
    return marked


def _shown(combo: tuple[str, str, str]) -> tuple[str, str, str]:
    role, raw, channel = combo
    return role, "" if raw == role else raw.replace("_", " "), channel


def _window(reason: str) -> float:
    found = _WINDOW.search(reason)
    return float(found.group(1)) if found else np.inf


def _timelines(events: pd.DataFrame) -> tuple[dict[str, list[str]], dict[str, dict[str, list]]]:
    """Each customer's events as columns, newest first: t minutes since 1970 (UTC), k and c
    the type and channel as numbers into the returned tables, v value, x text, s sentiment,
    m behind a reason (0/1). Columns of numbers keep a long history small."""
    kinds, types = pd.factorize(events["event_type"].astype(str).str.replace("_", " "))
    channel = events["channel"].astype(object).where(events["channel"].notna(), "")
    places, channels = pd.factorize(channel.astype(str).str.replace("_", " "))
    stamps = events["event_time"].to_numpy(dtype="datetime64[m]").astype(np.int64)
    values = events["value"].astype(float).round(2).to_numpy()
    columns = {
        "t": stamps.tolist(),
        "k": kinds.tolist(),
        "c": places.tolist(),
        "v": [None if np.isnan(v) else float(v) for v in values],
        "x": [None if pd.isna(t) else contact_details_masked(str(t)) for t in events["text"]],
        "s": [None if np.isnan(v) else round(float(v), 2) for v in events["sentiment"]],
        "m": events["marked"].astype(int).tolist(),
    }
    ids = events["customer_id"].to_numpy(dtype=object)
    found, starts = np.unique(ids, return_index=True)
    ends = np.append(starts[1:], len(ids)) if len(starts) else starts
    out = {
        str(cid): {k: col[a:b] for k, col in columns.items()}
        for cid, a, b in zip(found, starts, ends, strict=True)
    }
    tables = {"types": [str(t) for t in types], "channels": [str(c) for c in channels]}
    return tables, out


def _received(actions: pd.DataFrame) -> dict[str, list[list[Any]]]:
    """Per customer, [day, action, channel, cost] per action received, newest first."""
    channel = actions.get("channel", pd.Series(None, index=actions.index, dtype=object))
    cost = actions.get("cost", pd.Series(np.nan, index=actions.index)).astype(float)
    rows = zip(
        actions["action_time"].dt.strftime("%Y-%m-%d"),
        [action_words(a) for a in actions["action"]],
        ["" if pd.isna(c) else str(c).replace("_", " ") for c in channel],
        [None if np.isnan(c) else round(float(c), 2) for c in cost],
        strict=True,
    )
    out: dict[str, list[list[Any]]] = {}
    for cid, row in zip(actions["customer_id"], rows, strict=True):
        out.setdefault(str(cid), []).append(list(row))
    return out


def _before(table: pd.DataFrame | None, time: str, ids: pd.Index, at: pd.Timestamp) -> pd.DataFrame:
    if table is None or table.empty:
        return pd.DataFrame(columns=["customer_id", time])
    table = table[(table[time] < at) & table["customer_id"].astype(str).isin(ids)].copy()
    for column in ("customer_id", "event_type", "channel", "action"):
        if column in table:  # categories in: plain strings (None stays missing)
            table[column] = table[column].astype(object).where(table[column].notna(), None)
    table["customer_id"] = table["customer_id"].astype(str)
    return table.sort_values(["customer_id", time], ascending=[True, False], kind="stable")


def customer_views(
    listing: pd.DataFrame,
    events: pd.DataFrame,
    actions: pd.DataFrame | None,
    cutoff: str | pd.Timestamp,
    roles: Mapping[str, str] | None = None,
) -> tuple[dict[str, list[str]], dict[str, dict[str, Any]]]:
    """The tables the timelines' codes point into, and each listed customer's view by id.
    `listing`: rows of `Listing.frame`; `events` and `actions`: contract tables (any
    customers; only the listed ones' rows before the cutoff are used); `roles`: raw event
    type -> built-in type (the taxonomy's aliases)."""
    at = utc_timestamp(cutoff)
    ids = pd.Index(listing["customer_id"].astype(str))
    events = _before(events, "event_time", ids, at)
    for column in ("event_type", "channel", "value", "text"):  # an empty or a lean events table
        if column not in events:
            events[column] = None
    events["role"] = events["event_type"].astype(str).map(lambda t: (roles or {}).get(t, t))
    events["sentiment"] = sentiment(events["text"].to_numpy(dtype=object))
    events["marked"] = _marks(events, listing, at)
    taken = _before(actions, "action_time", ids, at)
    tables, timelines = _timelines(events)
    received = _received(taken) if len(taken) else {}
    empty: dict[str, list] = {k: [] for k in "tkcvxsm"}
    views: dict[str, dict[str, Any]] = {}
    for row in listing.to_dict("records"):
        cid = str(row["customer_id"])
        views[cid] = {
            **{k: json_value(v) for k, v in row.items()},
            "timeline": timelines.get(cid, empty),
            "received": received.get(cid, []),
        }
    return tables, views
