"""Profile attributes as they were at a cutoff: the customers table read through the history in
the optional `attributes` table, so a plan or segment of today never leaks into the past.

The rule, for each customer and attribute (pure; the same at every cutoff, in training, in
scoring, on Spark and for `/predict_by_id`):

* **with history** (the attributes table has at least one row for this customer and attribute,
  at any time): the value of the latest row with `valid_from` strictly before the cutoff (as
  with events, a change at the cutoff itself is not yet seen); **missing** when every row is at
  or after the cutoff. The customers table's value is then never used: it is the value of
  today, and nothing says since when it holds. (Write a first row at signup to have the value
  known from the start.)
* **without history**: the customers table's value, **static**, assumed constant over time.

An attribute of the history that the customers table has no column for becomes a new column,
missing for customers without rows of it. Values are text as stored; they are read as numbers
where the customers column holds numbers (`numeric_attributes`), and a new attribute is text.
Every attribute the history names gets the same column type whether or not any row is visible,
so one customer's slice (`names`: the whole table's attributes) gives the columns the whole base
gives.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from cxml.data.schema import RESERVED_ATTRIBUTES, utc_timestamp
from cxml.data.validate import is_pii, numeric_attributes

__all__ = ["as_of", "attribute_record", "history_names", "profile_columns"]


def history_names(attributes: pd.DataFrame | None) -> list[str]:
    """The attributes a history table names (sorted, each once; never customer_id or
    signup_time)."""
    if attributes is None or attributes.empty:
        return []
    names = pd.unique(attributes["attribute"].astype(object).dropna().astype(str))
    return sorted(set(names) - {"", *RESERVED_ATTRIBUTES})


def as_of(
    customers: pd.DataFrame,
    attributes: pd.DataFrame | None,
    cutoff: str | pd.Timestamp,
    names: Iterable[str] = (),
) -> pd.DataFrame:
    """`customers` with each attribute that has history as it was strictly before `cutoff` (the
    rule above). `attributes`: clean rows of the attributes table (None: no history, `customers`
    is returned as it is). `names`: attributes to treat as having history even when
    `attributes` holds none of their rows (one customer's slice of a table)."""
    every = sorted({*history_names(attributes), *names} - {"", *RESERVED_ATTRIBUTES})
    if not every:
        return customers
    cut = utc_timestamp(cutoff).value
    ids = pd.Index(customers["customer_id"].astype(str).to_numpy(dtype=object))
    n = len(ids)
    numeric = numeric_attributes(customers)
    rows = _rows(attributes, ids, every)
    has_rows = np.zeros((len(every), n), dtype=bool)
    has_rows[rows["attr"], rows["cust"]] = True
    latest = _latest(rows, cut)
    out = customers.copy(deep=False)  # columns are replaced below, never written into
    for j, name in enumerate(every):
        is_number = name in numeric
        values = _base(customers, name, is_number)
        values[has_rows[j]] = np.nan if is_number else None
        mine = latest["attr"] == j
        values[latest["cust"][mine]] = latest["number" if is_number else "value"][mine]
        out[name] = values
    return out


def profile_columns(customers: pd.DataFrame, attributes: pd.DataFrame | None) -> pd.DataFrame:
    """No rows, the columns and types `as_of` gives at any cutoff: for the feature catalog."""
    return as_of(customers.head(0), attributes, pd.Timestamp(0, tz="UTC"))


def _rows(attributes: pd.DataFrame | None, ids: pd.Index, every: list[str]) -> dict[str, Any]:
    """The history rows of these customers and attributes as aligned arrays: customer position,
    attribute position, valid_from (UTC ns), value, and value as a number (NaN: not one)."""
    empty = np.empty(0, dtype=np.int64)
    if attributes is None or attributes.empty:
        text, number = np.empty(0, dtype=object), np.empty(0)
        return {"cust": empty, "attr": empty, "time": empty, "value": text, "number": number}
    cust = ids.get_indexer(attributes["customer_id"].astype(str).to_numpy(dtype=object))
    names = attributes["attribute"].astype(object).to_numpy()
    attr = pd.Index(every).get_indexer(names)
    times = pd.to_datetime(attributes["valid_from"], utc=True)
    known = (cust >= 0) & (attr >= 0) & times.notna().to_numpy()
    if "value" in attributes:
        value = attributes["value"].astype(object)[known]
        text = value.where(value.notna(), None).to_numpy(dtype=object)
    else:
        text = np.full(int(known.sum()), None, dtype=object)
    number = pd.to_numeric(pd.Series(text, dtype=object), errors="coerce").to_numpy(float)
    return {
        "cust": cust[known],
        "attr": attr[known],
        "time": times.array.asi8[known],
        "value": text,
        "number": number,
    }


def _latest(rows: dict[str, Any], cut: int) -> dict[str, Any]:
    """Per (attribute, customer) with a row strictly before `cut`: the latest such row (ties in
    time: the later row of the table)."""
    before = np.flatnonzero(rows["time"] < cut)
    order = before[np.lexsort((rows["time"][before], rows["cust"][before], rows["attr"][before]))]
    attr, cust = rows["attr"][order], rows["cust"][order]
    last = np.ones(len(order), dtype=bool)
    last[:-1] = (attr[1:] != attr[:-1]) | (cust[1:] != cust[:-1])
    keep = order[last]
    return {name: column[keep] for name, column in rows.items()}


def _base(customers: pd.DataFrame, name: str, is_number: bool) -> np.ndarray:
    """The customers table's values of an attribute (a copy; missing when it has no column), as
    floats for a numeric column, else as objects."""
    if name not in customers:
        return np.full(len(customers), np.nan) if is_number else np.full(len(customers), None)
    if is_number:
        return customers[name].to_numpy(dtype=float, na_value=np.nan, copy=True)
    values = customers[name].astype(object)
    return values.where(values.notna(), None).to_numpy(dtype=object, copy=True)


def attribute_record(
    customers: pd.DataFrame, attributes: pd.DataFrame | None, pii_columns: Iterable[str] = ()
) -> dict[str, list[str]]:
    """For a trained model's record: the profile attributes read through their history, and the
    static ones (no history at all: the customers table's value, assumed constant over time)."""
    history = history_names(attributes)
    skip = {*RESERVED_ATTRIBUTES, *history}
    pii = is_pii(customers.columns, pii_columns)
    static = sorted(
        str(c) for c, p in zip(customers.columns, pii, strict=True) if not p and str(c) not in skip
    )
    return {"with_history": history, "static": static}
