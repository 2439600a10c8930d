"""One customer as the page shows them: scores, reasons, the recommended action and the runner-up,
every interaction before the cutoff (newest first; those behind a reason marked), and the
actions the customer already received. Built for many customers at once (the static folder
holds everyone's) and for one (the server builds it when asked). Pure.

An interaction is behind a reason when the reason is about its kind of event (by the reason's
family, e.g. support: tickets and complaints, or because it names the events, "days since the
last of the logins", or the channel, "interactions via call centre") and it falls in the
reason's window ("in the last 90 days"), read from the scored list's own columns, so the marks
agree with what scored.csv says.

The static folder is built a chunk of customers at a time (`chunked_views`): each event's
chunk is looked up once, and one chunk's timelines are built, written and let go before the
next, so a large base's timelines are never all in memory.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from cxml.data.schema import utc_timestamp
from cxml.data.validate import contact_details_masked
from cxml.features.catalog import event_words, one
from cxml.features.sentiment import sentiment
from cxml.features.visible import looked_up, narrow
from cxml.report.ui import CHUNK, Views, action_words, json_rows

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


def _marks(
    events: pd.DataFrame, listing: pd.DataFrame, at: pd.Timestamp, roles: Mapping[str, str]
) -> np.ndarray:
    """Per event (rows of `events`, customers of `listing`), whether a reason is about it:
    decided once per distinct reason and kind of event, then looked up per event."""
    marked = np.zeros(len(events), dtype=bool)
    if not len(events):
        return marked
    place = pd.Index(listing["customer_id"]).get_indexer(events["customer_id"])
    types, type_names = pd.factorize(events["event_type"].astype(object), use_na_sentinel=False)
    channels, channel_names = pd.factorize(events["channel"].fillna(""), use_na_sentinel=False)
    codes, kinds = pd.factorize(types.astype(np.int64) * len(channel_names) + channels)
    combos = [  # (role, raw type, channel) per kind of event
        (roles.get(str(t), str(t)), str(t), str(c))
        for t, c in zip(
            type_names[kinds // len(channel_names)],
            channel_names[kinds % len(channel_names)],
            strict=True,
        )
    ]
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
    m behind a reason (0/1). Columns of numbers keep a long history small. Each column is made
    in one pass; only the texts present are masked one by one."""
    kinds, types = pd.factorize(events["event_type"].astype(object), use_na_sentinel=False)
    places, channels = pd.factorize(events["channel"].astype(object), use_na_sentinel=False)
    stamps = events["event_time"].to_numpy(dtype="datetime64[m]").astype(np.int64)
    texts = events["text"].to_numpy(dtype=object)
    written = np.flatnonzero(pd.notna(texts))
    masked = np.full(len(texts), None, dtype=object)
    masked[written] = [contact_details_masked(str(t)) for t in texts[written]]
    columns = {
        "t": stamps.tolist(),
        "k": kinds.tolist(),
        "c": places.tolist(),
        "v": _numbers_or_none(events["value"].astype(float).round(2).to_numpy()),
        "x": masked.tolist(),
        "s": _numbers_or_none(np.round(events["sentiment"].to_numpy(dtype=float), 2)),
        "m": events["marked"].astype(int).tolist(),
    }
    ids = events["customer_id"].to_numpy(dtype=object)
    found, starts = np.unique(ids, return_index=True)
    ends = np.append(starts[1:], len(ids)) if len(starts) else starts
    out = {
        str(cid): {k: col[a:b] for k, col in columns.items()}
        for cid, a, b in zip(found, starts, ends, strict=True)
    }
    tables = {
        "types": [str(t).replace("_", " ") for t in types],
        "channels": ["" if pd.isna(c) else str(c).replace("_", " ") for c in channels],
    }
    return tables, out


def _numbers_or_none(values: np.ndarray) -> list[float | None]:
    """Python floats, None where missing (JSON null)."""
    out = values.astype(object)
    out[np.isnan(values)] = None
    return out.tolist()


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
    """The rows of `table` before `at` whose customer is in `ids`, as `_in_order` gives them."""
    rows = np.empty(0, dtype=np.int64)
    if table is not None and not table.empty:
        listed = _plain(table["customer_id"]).astype(str).isin(ids).to_numpy()
        rows = np.flatnonzero((table[time] < at).to_numpy(dtype=bool) & listed)
    return _in_order(table, rows, time)


def _in_order(table: pd.DataFrame | None, rows: np.ndarray, time: str) -> pd.DataFrame:
    """The `rows` of `table` with ids, types, channels and actions as plain values (None stays
    missing), by customer, newest first."""
    if table is None or table.empty:
        return pd.DataFrame(columns=["customer_id", time])
    table = table.iloc[rows].copy()
    for column in ("customer_id", "event_type", "channel", "action"):
        if column in table:
            table[column] = _plain(table[column])
    table["customer_id"] = table["customer_id"].astype(str)
    return table.sort_values(["customer_id", time], ascending=[True, False], kind="stable")


def _plain(column: pd.Series) -> pd.Series:
    """`column` as plain values, None where missing. A categorical is read through its codes:
    a chunk of a big base's events still has every customer as a category, so reading through
    the categories would cost a pass over them all per chunk."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        codes = column.cat.codes.to_numpy()
        values = np.asarray(column.cat.categories, dtype=object)[codes]
        values[codes < 0] = None  # code -1: missing
        return pd.Series(values, index=column.index, dtype=object)
    return column.astype(object).where(column.notna(), None)


def customer_views(
    listing: pd.DataFrame,
    events: pd.DataFrame,
    actions: pd.DataFrame | None,
    cutoff: str | pd.Timestamp,
    roles: Mapping[str, str] | None = None,
) -> Views:
    """The tables the timelines' codes point into, and each listed customer's view by id.
    `listing`: rows of `Listing.frame`; `events` and `actions`: contract tables (any
    customers; only the listed ones' rows before the cutoff are used); `roles`: raw event
    type -> built-in type (the taxonomy's aliases)."""
    at = utc_timestamp(cutoff)
    ids = pd.Index(listing["customer_id"].astype(str))
    events = _before(events, "event_time", ids, at)
    return _views(listing, events, _before(actions, "action_time", ids, at), at, roles)


def _views(
    listing: pd.DataFrame,
    events: pd.DataFrame,
    taken: pd.DataFrame,
    at: pd.Timestamp,
    roles: Mapping[str, str] | None,
) -> Views:
    """`customer_views` of the listed customers' events and actions before `at`, in order."""
    for column in ("event_type", "channel", "value", "text"):  # an empty or a lean events table
        if column not in events:
            events[column] = None
    events["sentiment"] = sentiment(events["text"].to_numpy(dtype=object))
    events["marked"] = _marks(events, listing, at, roles or {})
    tables, timelines = _timelines(events)
    received = _received(taken) if len(taken) else {}
    empty: dict[str, list] = {k: [] for k in "tkcvxsm"}
    views: dict[str, dict[str, Any]] = {}
    for row in json_rows(listing):
        cid = str(row["customer_id"])
        views[cid] = {
            **row,
            "timeline": timelines.get(cid, empty),
            "received": received.get(cid, []),
        }
    return tables, views


def chunked_views(
    listing: pd.DataFrame,
    events: pd.DataFrame,
    actions: pd.DataFrame | None,
    cutoff: str | pd.Timestamp,
    roles: Mapping[str, str] | None = None,
    size: int = CHUNK,
) -> list[Callable[[], Views]]:
    """Per chunk of `size` consecutive customers of `listing`, a call that builds that chunk's
    `customer_views` from its customers' own rows; what a call returns is the same as the whole
    list's views of those customers, with tables of its own."""
    at = utc_timestamp(cutoff)
    ids = pd.Index(listing["customer_id"].astype(str))
    count = -(-len(ids) // size)
    event_rows = _rows_by_chunk(events, "event_time", ids, at, size, count)
    action_rows = _rows_by_chunk(actions, "action_time", ids, at, size, count)
    return [
        partial(
            _chunk_views,
            listing,
            events,
            actions,
            slice(k * size, (k + 1) * size),
            event_rows[k],
            action_rows[k],
            at,
            roles,
        )
        for k in range(count)
    ]


def _chunk_views(
    listing: pd.DataFrame,
    events: pd.DataFrame,
    actions: pd.DataFrame | None,
    customers: slice,
    event_rows: np.ndarray,
    action_rows: np.ndarray,
    at: pd.Timestamp,
    roles: Mapping[str, str] | None,
) -> Views:
    chosen = _in_order(events, event_rows, "event_time")
    taken = _in_order(actions, action_rows, "action_time")
    return _views(listing.iloc[customers], chosen, taken, at, roles)


def _rows_by_chunk(
    table: pd.DataFrame | None, time: str, ids: pd.Index, at: pd.Timestamp, size: int, count: int
) -> list[np.ndarray]:
    """The rows of `table` before `at` whose customer is in `ids`, as one array per chunk of
    `size` consecutive customers of `ids`: each row's chunk is looked up once (a categorical
    column once per category), as a small number, then the rows are grouped by it
    (`grouped_rows`)."""
    if table is None or table.empty:
        return [np.empty(0, dtype=np.int64)] * count
    column = table["customer_id"]
    if not isinstance(column.dtype, pd.CategoricalDtype):
        column = column.astype(str).astype(object)
    kind = narrow(count)
    chunk_of = np.append(np.arange(len(ids)) // size, -1).astype(kind)  # last: not listed
    chunk = looked_up(column.array, ids, chunk_of, -1, slice(None))
    chunk[~(table[time] < at).to_numpy(dtype=bool)] = -1  # a missing time is not before
    return grouped_rows(chunk, count)


#: Rows sorted at once by `grouped_rows`: a sort's index of every row of a big base's events
#: would be the largest array a scoring run makes.
GROUP_BLOCK = 1 << 20


def grouped_rows(group: np.ndarray, count: int, block: int = GROUP_BLOCK) -> list[np.ndarray]:
    """Per group 0 .. count - 1, the numbers of the rows in it, in row order (rows of group -1
    are in none), in the narrowest index type: they are held while the whole page is written.
    The rows are sorted a block at a time and each block's runs copied to their group's place,
    so no array of one index per row is made."""
    if not count:
        return []
    starts = range(0, len(group), block)
    counts = [np.bincount(group[a : a + block] + 1, minlength=count + 1) for a in starts]
    sizes = np.zeros(count, dtype=np.int64)
    for here in counts:
        sizes += here[1:]
    ends = np.cumsum(sizes)
    rows = np.empty(int(ends[-1]), dtype=narrow(len(group)))
    free = ends - sizes  # per group, the next place of its rows
    for start, here in zip(starts, counts, strict=True):
        part = group[start : start + block]
        order = np.argsort(part, kind="stable")  # the rows of no group (-1) first
        order = order[here[0] :]
        run_start = np.cumsum(here[1:]) - here[1:]  # where each group's run begins in `order`
        place = np.arange(len(order))
        place += (free - run_start)[part[order]]
        order += start
        rows[place] = order
        free += here[1:]
    return np.split(rows, ends[:-1])
