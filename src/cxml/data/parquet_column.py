"""One column of a Parquet file as the frame's own array, with as little held beside it as the
column's type allows.

Arrow's `to_pandas` makes a column's NumPy array from the whole column read into Arrow's memory,
so a read holds both at once. A float or a UTC time column (eight bytes a row, the widest of a
data dir's events: their times and values) is instead read a row group at a time into the array
it ends in: the read then holds that array and one row group's worth of Arrow's."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq


def read_column(path: Path, name: str, texts: list[str]) -> pd.Series:
    """The column `name` of the Parquet file at `path`; `texts`: the text columns to read as
    categoricals. A reader of its own, so that columns can be read on several threads."""
    file = pq.ParquetFile(path, read_dictionary=texts)
    kind = file.schema_arrow.field(name).type
    if _fills_in_place(kind):
        return _filled(file, name, kind)
    return file.read(columns=[name]).to_pandas(self_destruct=True)[name]


def _fills_in_place(kind: pa.DataType) -> bool:
    """Floats, and times in nanoseconds, UTC or naive: those whose array `to_pandas` would give
    is a plain NumPy array of the same numbers (a float's missing as NaN, a time's as NaT)."""
    if pa.types.is_floating(kind):
        return kind.bit_width >= 32
    return pa.types.is_timestamp(kind) and kind.unit == "ns" and kind.tz in (None, "UTC")


def _filled(file: pq.ParquetFile, name: str, kind: pa.DataType) -> pd.Series:
    rows, times = file.metadata.num_rows, pa.types.is_timestamp(kind)
    if times:
        naive = pd.Series(np.empty(rows, dtype="datetime64[ns]"), name=name, copy=False)
        # localising an array never written to reads no page of it into memory: the array it
        # makes is the one that takes memory, and its nanoseconds are filled below
        series = naive.dt.tz_localize("UTC") if kind.tz else naive
        target = series.array.asi8 if kind.tz else series.to_numpy().view(np.int64)
    else:
        series = pd.Series(np.empty(rows, dtype=kind.to_pandas_dtype()), name=name, copy=False)
        target = series.to_numpy()
    start = 0
    for group in range(file.num_row_groups):
        values = file.read_row_group(group, columns=[name]).column(0).to_numpy()  # NaN, NaT
        target[start : start + len(values)] = values.view(np.int64) if times else values
        start += len(values)
    return series
