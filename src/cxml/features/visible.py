"""The events that can be seen at a cutoff, as aligned arrays, and windowed totals of them.

Only events strictly before the cutoff and within the longest window are read. Every windowed
total is one `bincount` over a combined (group, customer, window bucket) index followed by a
cumulative sum over the few windows, so a whole base is aggregated straight into a dense array.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeAlias

import numpy as np
import pandas as pd

from cxml.config import FeatureConfig
from cxml.features.table import Table

NS_PER_DAY = 86_400 * 10**9
NS_PER_HOUR = 3_600 * 10**9

#: What the features read: a data-contract table as a frame (from files), as a `Table`, or as a
#: mapping of its columns' arrays (a request's few rows), taken once by `Table.of`.
Source: TypeAlias = pd.DataFrame | Mapping[str, Any] | Table


@dataclass
class Events:
    """The events that can be seen at the cutoff, as aligned numpy arrays."""

    cust: np.ndarray  # index into the customers frame
    age: np.ndarray  # days before the cutoff, > 0
    slot: np.ndarray  # cust * n_windows + index of the smallest window holding the event
    kind: np.ndarray  # index into config.counted_types, len(counted_types) = other
    channel: np.ndarray  # index into config.counted_channels, len(...) = other, -1 = missing
    rows: np.ndarray  # each one's row in the events table
    values: np.ndarray | None  # the events table's whole value column (None: it has none)
    text_at: np.ndarray  # positions of the events with a comment in the text window
    text: np.ndarray  # those comments
    time_ns: np.ndarray

    def value(self, rows: np.ndarray) -> np.ndarray:
        """The value (NaN: none) of the events at `rows`: read from the table for the few kinds
        that carry one (purchases, surveys, tickets), not gathered for every visible event."""
        if self.values is None:
            return np.full(len(rows), np.nan)
        return self.values[self.rows[rows]]


def columns_of(source: Source) -> Mapping[str, Any]:
    """A source's columns as arrays (a frame's are read once, without copying)."""
    return Table.of(source).columns


def position_reader(
    values: Any, vocabulary: pd.Index
) -> Callable[[np.ndarray | slice], np.ndarray]:
    """A function of `rows` giving the position in `vocabulary` of the value at each, -1 when
    absent or missing, for reading a column a part at a time. A categorical column's are of
    the narrowest type, looked up once per category, or, when the column has fewer rows than
    categories (a notebook's slice of one customer from a whole base), by the rows' own values."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        kind = narrow(len(vocabulary))
        if values.categories.equals(vocabulary):
            return lambda rows: values.codes[rows].astype(kind)
        if len(values) >= len(values.categories):
            lookup = np.append(vocabulary.get_indexer(values.categories.astype(str)), -1)
            by_code = lookup.astype(kind)
            return lambda rows: by_code[values.codes[rows]]  # code -1 (missing): the last slot

        def by_value(rows: np.ndarray | slice) -> np.ndarray:
            codes = values.codes[rows]
            named = values.categories.take(np.maximum(codes, 0)).astype(str).to_numpy(object)
            named[codes < 0] = None  # missing
            return _positions(named, vocabulary).astype(kind)

        return by_value
    return lambda rows: _positions(np.asarray(values, dtype=object)[rows], vocabulary)


def looked_up(
    values: Any, vocabulary: pd.Index, table: np.ndarray, missing: int, rows: np.ndarray | slice
) -> np.ndarray:
    """`table[position in vocabulary]` of the value at each of `rows`: `table` has one entry
    per vocabulary entry and a last one for a value outside it; a missing value reads
    `missing`. A categorical column is mapped once per category and then read in one gather."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        per_category = table[vocabulary.get_indexer(values.categories.astype(str))]
        last = np.array([missing], dtype=table.dtype)  # of the table's type, as below
        return np.append(per_category, last)[values.codes[rows]]  # code -1: missing
    positions = position_reader(values, vocabulary)(rows)
    found = table[positions]
    absent = np.flatnonzero(positions < 0)  # outside the vocabulary, or missing
    if len(absent):
        found[absent[pd.isna(np.asarray(values, dtype=object)[rows][absent])]] = missing
    return found


def _positions(values: np.ndarray, vocabulary: pd.Index) -> np.ndarray:
    """`vocabulary.get_indexer(values)`. One request's few values go through a dict: pandas
    spends more setting up each lookup than a dict spends on a hundred values."""
    if len(values) > 4096 or len(vocabulary) > 64:
        return vocabulary.get_indexer(values)
    where = {value: i for i, value in enumerate(vocabulary)}
    if len(where) < len(vocabulary):  # repeated entries: let pandas say so
        return vocabulary.get_indexer(values)
    return np.array([where.get(value, -1) for value in values], dtype=np.int64)


def narrow(count: int) -> np.dtype:
    """The narrowest signed integer type holding -1 to `count`: the visible events' arrays are
    most of a build's memory, and a kind fits in one byte, a customer's index in four."""
    return np.min_scalar_type(-count - 1)


@lru_cache(maxsize=64)
def _vocabulary(values: tuple[str, ...]) -> pd.Index:
    return pd.Index(values)


def in_look_back(time_ns: np.ndarray, cutoff: pd.Timestamp, cfg: FeatureConfig) -> np.ndarray:
    """Per event (UTC nanoseconds): whether a feature at `cutoff` can see it, before the cutoff
    and within the longest window."""
    longest_ns = max(cfg.windows) * NS_PER_DAY
    return (time_ns < cutoff.value) & (time_ns >= cutoff.value - longest_ns)


#: Events whose blocks are worked out at once (`customer_blocks`): that step's per-event arrays
#: are this long, not as long as the whole log.
EVENT_CHUNK = 1 << 22


def customer_blocks(
    columns: Mapping[str, Any], ids: pd.Index, cutoff: pd.Timestamp, cfg: FeatureConfig, size: int
) -> Iterator[tuple[slice, np.ndarray, np.ndarray]]:
    """The events a feature at `cutoff` can see, by blocks of `size` consecutive customers of
    `ids`: per block, its customers (a slice of `ids`), its events' rows and each one's customer
    (a position in the block). A build then holds one block's arrays at a time, not a whole
    base's: of the whole log it keeps one small number per event (its block), made a chunk of
    events at a time, and reads each event's customer again with its block."""
    owner = position_reader(columns["customer_id"], ids)
    times = columns["event_time"].asi8
    if len(ids) <= size:
        found = owner(slice(None))
        rows = np.flatnonzero(in_look_back(times, cutoff, cfg) & (found >= 0))
        yield slice(0, len(ids)), rows, found[rows]
        return
    block = np.empty(len(times), dtype=narrow(-(-len(ids) // size)))
    for start in range(0, len(times), EVENT_CHUNK):
        part = slice(start, start + EVENT_CHUNK)
        found = owner(part)
        seen = in_look_back(times[part], cutoff, cfg) & (found >= 0)
        block[part] = np.where(seen, found // size, -1)
    for number, start in enumerate(range(0, len(ids), size)):
        rows = np.flatnonzero(block == number)  # one pass over small numbers per block
        cust = owner(rows)
        cust -= start
        yield slice(start, start + size), rows, cust


def visible_events(
    columns: Mapping[str, Any],
    rows: np.ndarray,
    cust: np.ndarray,
    n: int,
    cutoff: pd.Timestamp,
    cfg: FeatureConfig,
) -> Events:
    """The events at `rows` (of `customer_blocks`) as aligned arrays; `cust`: each one's
    customer, a position among the block's `n`."""
    cust = cust.astype(narrow(n), copy=False)
    time_ns = columns["event_time"].asi8[rows]  # UTC nanoseconds, no per-row objects
    age = (cutoff.value - time_ns) / NS_PER_DAY
    names, counts_as = cfg.type_vocabulary  # the business's raw names count as their role
    other = len(cfg.counted_types)
    kinds_of = np.array([*counts_as, other], dtype=narrow(other))
    kinds = looked_up(columns["event_type"], _vocabulary(names), kinds_of, other, rows)
    if "channel" in columns:
        other_channel = len(cfg.counted_channels)  # an unknown one counts as other
        channels = np.arange(other_channel + 1, dtype=narrow(other_channel))
        chan = looked_up(columns["channel"], _vocabulary(cfg.counted_channels), channels, -1, rows)
    else:
        chan = np.full(len(rows), -1, dtype=np.int8)
    values = np.asarray(columns["value"], dtype=float) if "value" in columns else None
    text_at, text = _recent_text(columns.get("text"), rows, age, cfg.text_window)
    shorter = np.zeros(len(rows), dtype=np.int8)  # how many windows are shorter than the age
    for window in sorted(cfg.windows)[:-1]:
        shorter += age > window
    slot = cust.astype(narrow(n * len(cfg.windows)))
    slot *= len(cfg.windows)
    slot += shorter
    return Events(cust, age, slot, kinds, chan, rows, values, text_at, text, time_ns)


def _recent_text(column: Any, rows: np.ndarray, age: np.ndarray, window: int):
    """Positions (into the visible events) and texts of the comments within `window` days."""
    if column is None:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=object)
    recent = np.flatnonzero(age <= window)
    if isinstance(getattr(column, "dtype", None), pd.CategoricalDtype):  # as a data dir is read
        codes = column.codes[rows[recent]]  # most events have no comment: code -1
        present = codes >= 0
        return recent[present], np.asarray(column.categories, dtype=object)[codes[present]]
    if not hasattr(column, "dtype"):  # a request's list
        column = np.asarray(column, dtype=object)
    text = np.asarray(column[rows[recent]], dtype=object)  # a categorical: only these rows
    present = pd.notna(text)
    return recent[present], text[present]


def windowed(
    ev: Events,
    n: int,
    n_windows: int,
    rows: np.ndarray | None = None,
    group: np.ndarray | None = None,
    groups: int = 1,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """(customers, groups, windows) totals over `rows` (default all); window w holds everything
    up to its length. `group` and `weights` are aligned with `rows`."""
    key = ev.slot if rows is None else ev.slot[rows]
    if group is not None:  # in numpy's index type, which bincount reads without a copy
        flat = np.multiply(group, n * n_windows, dtype=np.intp)
        flat += key
        key = flat
    totals = np.bincount(key, weights=weights, minlength=groups * n * n_windows)
    totals = totals.reshape(groups, n, n_windows)
    for w in range(1, n_windows):  # cumulative over the few windows, faster than cumsum(axis=2)
        totals[:, :, w] += totals[:, :, w - 1]
    return totals.transpose(1, 0, 2)


def last_two(ev: Events, rows: np.ndarray, n: int) -> tuple[np.ndarray, ...]:
    """Per customer: last value, previous value, and age of the last, among `rows`."""
    last, prev = np.full(n, np.nan), np.full(n, np.nan)
    last_age = youngest(ev, rows, n)
    is_last = ev.age[rows] == last_age[ev.cust[rows]]
    last[ev.cust[rows[is_last]]] = ev.value(rows[is_last])
    earlier = rows[~is_last]
    is_prev = ev.age[earlier] == youngest(ev, earlier, n)[ev.cust[earlier]]
    prev[ev.cust[earlier[is_prev]]] = ev.value(earlier[is_prev])
    return last, prev, np.where(np.isinf(last_age), np.nan, last_age)


def youngest(ev: Events, rows: np.ndarray, n: int) -> np.ndarray:
    """Per customer, the smallest age among `rows` (inf when none)."""
    age = np.full(n, np.inf)
    np.minimum.at(age, ev.cust[rows], ev.age[rows])
    return age
