"""A Parquet column read a row group at a time (data/parquet_column.py) is what Arrow's
`to_pandas` gives: the same values, missing ones included, and the same type."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cxml.data.parquet_column import read_column

ROWS = 2_500
STAMPS = pd.Timestamp("2024-01-01", tz="UTC").value + np.arange(ROWS) * 3_600 * 10**9


def _with_missing(values: np.ndarray) -> list:
    return [None if i % 7 == 3 else v for i, v in enumerate(values.tolist())]


COLUMNS = {
    "value": pa.array(_with_missing(np.linspace(-5, 5, ROWS)), pa.float64()),
    "small": pa.array(_with_missing(np.linspace(0, 1, ROWS)), pa.float32()),
    "utc": pa.array(_with_missing(STAMPS), pa.timestamp("ns", "UTC")),
    "naive": pa.array(_with_missing(STAMPS), pa.timestamp("ns")),
    "paris": pa.array(_with_missing(STAMPS), pa.timestamp("ns", "Europe/Paris")),
    "micro": pa.array(_with_missing(STAMPS // 1000), pa.timestamp("us", "UTC")),
    "count": pa.array(_with_missing(np.arange(ROWS)), pa.int64()),
    "name": pa.array(_with_missing(np.array([f"c{i % 40}" for i in range(ROWS)])), pa.string()),
}


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    path = tmp_path_factory.mktemp("parquet") / "t.parquet"
    pq.write_table(pa.table(COLUMNS), path, row_group_size=600)  # five row groups, the last short
    assert pq.ParquetFile(path).num_row_groups == 5
    return path


@pytest.mark.parametrize("name", list(COLUMNS))
def test_a_column_reads_as_arrow_converts_it(written, name):
    texts = ["name"]
    expected = pq.read_table(written, read_dictionary=texts).to_pandas()[name]
    found = read_column(written, name, texts)
    assert found.dtype == expected.dtype
    assert found.name == name and len(found) == ROWS
    pd.testing.assert_series_equal(found, expected)
    assert found.isna().sum() == expected.isna().sum() > 0


def test_the_filled_column_is_the_frames_own(written):
    found = read_column(written, "utc", [])
    assert found.array.asi8.flags.writeable
