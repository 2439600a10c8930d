"""The batch table's DataFrame with its row labels as the first column: the same frame as
`frame().reset_index()`, made over the table's own arrays."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cxml.features.table import Table


def _table() -> Table:
    index = pd.Index(["c", "a", "b"], name="customer_id")
    columns = {
        "churn_probability": np.array([0.3, 0.1, np.nan]),
        "churn_rank": np.array([1, 3, 2]),
        "reason_1": np.array(["calls", "", None], dtype=object),
        "cutoff": pd.Timestamp("2025-06-30", tz="UTC"),  # a scalar every row shares
        "scored": pd.DatetimeIndex(["2025-01-01", None, "2025-03-01"], tz="UTC").array,
    }
    return Table(index, columns)


def test_the_labels_as_first_column_give_the_frame_reset_index_gives():
    table = _table()
    pd.testing.assert_frame_equal(table.frame_with_ids(), table.frame().reset_index())
    taken = table.take(np.argsort(table["churn_rank"], kind="stable"))
    expected = table.frame().reset_index().sort_values("churn_rank", kind="stable")
    pd.testing.assert_frame_equal(taken.frame_with_ids(), expected.reset_index(drop=True))


def test_the_frame_is_made_over_the_tables_own_arrays():
    table = _table()
    frame = table.frame_with_ids()
    assert np.shares_memory(frame["churn_probability"].to_numpy(), table["churn_probability"])
