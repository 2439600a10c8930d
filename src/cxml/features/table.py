"""The one batch table of cxml: named columns of equal length over an index of customer ids.

Array-first: each column is a numpy (or pandas extension) array, read by name with
`table[name]`. Features, scored columns and the attributes eligibility rules read are all such
tables; a DataFrame is made only at the edges (files, notebooks, the report) with `frame()`,
and a DataFrame or a mapping of arrays coming in is taken once with `Table.of`, without copying.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd


@dataclass
class Table:
    """`columns` maps a name to an array over the rows of `index`, or to a scalar that every
    row shares (a scored list's cutoff or model version)."""

    index: pd.Index
    columns: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, data: pd.DataFrame | Mapping[str, Any] | Table, index: pd.Index | None = None):
        """A table of a frame's columns (their arrays, not copies), or of a mapping of arrays
        (`index`: the row labels, default 0..n-1)."""
        if isinstance(data, Table):
            return data
        if isinstance(data, pd.DataFrame):
            return cls(data.index, {str(name): data[name].array for name in data.columns})
        columns = dict(data)
        rows = len(next(iter(columns.values()))) if columns else 0
        return cls(pd.RangeIndex(rows) if index is None else index, columns)

    def __getitem__(self, name: str) -> np.ndarray:
        return np.asarray(self.columns[name])

    def __contains__(self, name: object) -> bool:
        return name in self.columns

    def __len__(self) -> int:
        return len(self.index)

    def __iter__(self) -> Iterator[str]:
        return iter(self.columns)

    def take(self, positions: np.ndarray | slice) -> Table:
        """These rows only (positions, or a slice: views), every column kept."""
        return Table(self.index[positions], _rows(self.columns, positions))

    def names(self) -> list[str]:
        return list(self.columns)

    def frame(self) -> pd.DataFrame:
        """The table as a DataFrame, for files, notebooks and the report."""
        return pd.DataFrame(self.columns, index=self.index, copy=False)

    def frame_with_ids(self, name: str = "customer_id") -> pd.DataFrame:
        """The table as a DataFrame whose first column, `name`, holds the row labels, its rows
        numbered 0..n-1: `frame().reset_index()` (a list's shape), made over the columns' own
        arrays rather than a copy of every column."""
        columns = {name: self.index, **self.columns}
        return pd.DataFrame(columns, index=pd.RangeIndex(len(self)), copy=False)

    def records(self, index_name: str = "customer_id") -> list[dict[str, Any]]:
        """One dict per row, the index first under `index_name`: a scalar column (the same
        value on every row, e.g. the model version) is repeated."""
        n = len(self.index)
        read = {index_name: _python(self.index)}
        read |= {name: _python(v) if _is_array(v) else [v] * n for name, v in self.columns.items()}
        return [dict(zip(read, row, strict=True)) for row in zip(*read.values(), strict=True)]


def _rows(columns: Mapping[str, Any], positions: np.ndarray | slice) -> dict[str, Any]:
    """Each column at `positions`; a scalar column stays the scalar."""
    return {
        name: values[positions] if _is_array(values) else values for name, values in columns.items()
    }


def _python(values: Any) -> list[Any]:
    """A column's values as Python objects (numbers, strings, booleans) in one call; times and
    extension arrays keep their own scalars (a Timestamp, not nanoseconds)."""
    if isinstance(values, np.ndarray) and values.dtype.kind in "biufUO":
        return values.tolist()
    return list(values)


def _is_array(values: Any) -> bool:
    return isinstance(values, np.ndarray | pd.api.extensions.ExtensionArray)
