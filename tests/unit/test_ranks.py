"""Risk ranks: ties broken by the raw score, then by customer id, NaN last, whatever the row
order: the same order as sorting a frame on (-probability, -raw, id)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from cxml.scoring import ranks

NAN = float("nan")


def _by_sorting(probability: np.ndarray, raw: np.ndarray, ids: pd.Index) -> np.ndarray:
    order = pd.DataFrame({"p": -probability, "raw": -raw, "id": ids.astype(str)})
    position = order.sort_values(["p", "raw", "id"], kind="stable").index.to_numpy()
    rank = np.empty(len(position), dtype=np.int64)
    rank[position] = np.arange(1, len(position) + 1)
    return rank


def test_ties_go_to_the_higher_raw_score_then_the_smaller_id() -> None:
    probability = np.array([0.2, 0.5, 0.5, 0.5, NAN])
    raw = np.array([0.0, 1.0, 2.0, 1.0, 3.0])
    ids = pd.Index(["e", "d", "c", "b", "a"])
    assert ranks(probability, raw, ids).tolist() == [4, 3, 1, 2, 5]


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_ranks_equal_a_stable_sort_of_the_frame(data: st.DataObject) -> None:
    n = data.draw(st.integers(0, 12))
    level = st.sampled_from([0.0, 0.1, 0.5, 1.0, NAN])
    probability = np.array(data.draw(st.lists(level, min_size=n, max_size=n)), dtype=float)
    raw = np.array(data.draw(st.lists(level, min_size=n, max_size=n)), dtype=float)
    names = st.sampled_from(["a", "b", "B", "c10", "c2", "é", ""])
    ids = pd.Index(data.draw(st.lists(names, min_size=n, max_size=n)), dtype=object)
    assert ranks(probability, raw, ids).tolist() == _by_sorting(probability, raw, ids).tolist()
