"""The configured data dir in memory, for /predict_by_id: each customer's rows found by slicing
tables sorted once at start-up, so a request does no search over the whole history."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cxml.data.load import load_data_dir
from cxml.data.validate import is_pii
from cxml.features.attributes import as_of, history_names
from cxml.features.build import log_start


class _ByCustomer:
    """A table sorted by customer, each customer's rows found by slicing (no per-call search)."""

    def __init__(self, frame: pd.DataFrame) -> None:
        ids = frame["customer_id"].astype(str).to_numpy(dtype=object)
        order = np.argsort(ids, kind="stable")
        self.frame = frame.iloc[order].reset_index(drop=True)
        self.frame["customer_id"] = ids[order]  # plain strings: no per-call category lookups
        found, starts = np.unique(ids[order], return_index=True)
        ends = np.append(starts[1:], len(ids)) if len(starts) else starts
        self.bounds = {
            str(c): (int(a), int(b)) for c, a, b in zip(found, starts, ends, strict=True)
        }

    def rows(self, customer_id: str) -> pd.DataFrame:
        start, stop = self.bounds.get(customer_id, (0, 0))
        return self.frame.iloc[start:stop]


@dataclass(frozen=True)
class Found:
    events: pd.DataFrame
    customers: pd.DataFrame  # as the customers table has them today: see `profile`
    actions: pd.DataFrame | None  # what was done to the customer: cooldowns and contact caps
    attributes: pd.DataFrame | None = None  # their rows of the attribute history
    names: tuple[str, ...] = ()  # every attribute the data dir's history names

    def profile(self, at: object) -> pd.DataFrame:
        """The customers' attributes as of `at` (features/attributes.py), as in training."""
        return as_of(self.customers, self.attributes, pd.Timestamp(at), self.names)


class History:
    """The configured data dir in memory, PII columns dropped, looked up by customer."""

    def __init__(self, tables: dict[str, pd.DataFrame], pii: frozenset[str]) -> None:
        customers = tables["customers"]
        keep = customers.columns[~is_pii(customers.columns, pii)]
        self.customers = customers[keep].reset_index(drop=True)
        self.customers["customer_id"] = self.customers["customer_id"].astype(str).astype(object)
        self.rows = {cid: i for i, cid in enumerate(self.customers["customer_id"])}
        self.events = _ByCustomer(tables["events"])
        self.since = log_start(tables["events"])  # where the log starts, as in batch scoring
        self.actions = _ByCustomer(tables["actions"]) if "actions" in tables else None
        history = tables.get("attributes")
        self.attributes = None if history is None else _ByCustomer(history)
        self.attribute_names = tuple(history_names(history))

    @classmethod
    def load(cls, data_dir: Path, pii_columns: Sequence[str]) -> History:
        tables = load_data_dir(data_dir, tuple(pii_columns)).tables
        return cls(tables, frozenset(pii_columns))

    def find(self, customer_ids: Sequence[str]) -> Found:
        """The rows of these customers (all known), one frame per table."""
        rows = [self.rows[cid] for cid in customer_ids]
        actions = None if self.actions is None else _joined(self.actions, customer_ids)
        history = None if self.attributes is None else _joined(self.attributes, customer_ids)
        events, customers = _joined(self.events, customer_ids), self.customers.iloc[rows]
        return Found(events, customers, actions, history, self.attribute_names)


def _joined(table: _ByCustomer, customer_ids: Sequence[str]) -> pd.DataFrame:
    parts = [table.rows(cid) for cid in customer_ids]
    return parts[0] if len(parts) == 1 else pd.concat(parts)
