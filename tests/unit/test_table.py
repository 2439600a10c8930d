"""The batch table's DataFrame with its row labels as the first column: the same frame as
`frame().reset_index()`, made over the table's own arrays."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cxml.features.catalog import FeatureInfo, Features
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


def test_a_feature_tables_ids_come_first_before_its_frames_own_column_order():
    """A feature table lays its frame out as `Features.frame` does (numbers first, then the
    profile's categories, whatever order they were added in); the ids go first beside them."""
    index = pd.Index(["c", "a", "b"], name="customer_id")
    features = Features(index, {})
    features.add(
        FeatureInfo("profile_plan", "profile", None, "plan {value}"),
        np.array(["basic", "pro", None], dtype=object),
    )
    features.add(
        FeatureInfo("logins_30d", "activity", 30, "{value:.0f} logins"),
        np.array([3.0, 0.0, np.nan]),
    )
    frame = features.frame_with_ids()
    pd.testing.assert_frame_equal(frame, features.frame().reset_index())
    assert list(frame.columns) == ["customer_id", "logins_30d", "profile_plan"]
