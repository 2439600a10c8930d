"""Exact TreeSHAP for a LightGBM booster: the values of LightGBM's `pred_contrib` (path-dependent,
base value last), computed from per-leaf tables.

A leaf's share of a feature's SHAP value depends on the row only through which of the splits on
its path the row follows, a yes/no per distinct feature of the path. So each leaf's values for
every such pattern are worked out once per booster (`tables`), and a row then costs, per leaf, a
step down the tree and a few additions, not LightGBM's recursion over every path element (the
"Fast TreeSHAP v2" idea, Yang 2021). A leaf whose path has more distinct features than
`TABLE_FEATURES`, or past the tables' cap, has no table (it would double with each feature): its
values are worked out per row, in the same way. The trees are read by models/flat_trees.py.
"""

from __future__ import annotations

import weakref

import lightgbm as lgb
import numpy as np
from numba import njit

from cxml.models import flat_trees
from cxml.models.flat_trees import (
    CATEGORY,
    ONE_SPLIT,
    ROW_BLOCK,
    SPLIT_ARRAYS,
    Trees,
    category_goes_right,
    number_goes_right,
    over_rows,
    trees_of,
)

#: The most distinct features on a leaf's path for which its values are kept in a table (a
#: table holds 2^d x d numbers; longer paths are worked out per row), and the most numbers a
#: booster's tables hold in all.
TABLE_FEATURES = 12
TABLE_NUMBERS = 1 << 23

#: A pattern is an int64's bits, one per distinct feature of the path.
PATTERN_BITS = 62

#: The arrays `_rows` reads, in its order (then the tables).
_SHAP_ARRAYS = (
    "node_start",
    *SPLIT_ARRAYS,
    "entry_start",
    "entry_parent",
    "entry_via",
    "entry_left",
    "entry_slot",
    "entry_leaf",
    "leaf_value",
    "slot_start",
    "slot_feature",
    "slot_zero",
)


_tables: weakref.WeakKeyDictionary[Trees, tuple[np.ndarray, np.ndarray]] = (
    weakref.WeakKeyDictionary()
)


def tables(trees: Trees) -> tuple[np.ndarray, np.ndarray]:
    """Per leaf, where its values per pattern start in the table (-1: none, worked out per
    row), and the table; made once per booster's trees, on their first explanation. The
    shortest paths get theirs first (most leaves, and the cheapest), up to the cap."""
    if trees in _tables:
        return _tables[trees]
    sizes = np.diff(trees.slot_start)
    room = np.where(sizes <= TABLE_FEATURES, (1 << np.minimum(sizes, TABLE_FEATURES)) * sizes, 0)
    order = np.argsort(sizes, kind="stable")
    tabled = np.zeros(len(sizes), dtype=bool)
    tabled[order] = (sizes[order] <= TABLE_FEATURES) & (np.cumsum(room[order]) <= TABLE_NUMBERS)
    room[~tabled] = 0
    start = np.where(tabled, np.cumsum(room) - room, -1)
    table = np.empty(int(room.sum()))
    _fill_tables(trees.slot_start, trees.slot_zero, trees.leaf_value, start, table)
    _tables[trees] = start, table
    return start, table


def contributions(trees: Trees, matrix: np.ndarray) -> np.ndarray:
    """Rows x (columns + 1): each feature's SHAP value in raw score, the base value last."""
    rows = trees.rows(matrix)
    out = np.zeros((len(rows), trees.columns + 1))
    out[:, -1] = trees.expected
    arrays = [getattr(trees, name) for name in _SHAP_ARRAYS]
    return over_rows(_rows, rows, out, [*arrays, *tables(trees)])


def tree_contributions(
    booster: lgb.Booster, matrix: np.ndarray, num_iteration: int | None = None
) -> np.ndarray:
    """What `booster.predict(matrix, pred_contrib=True, num_iteration=...)` gives; LightGBM's
    own for a model flat_trees does not read or a path longer than a pattern's bits."""
    trees = trees_of(booster, num_iteration)
    if trees is None or trees.most_path_features >= PATTERN_BITS:  # read once per booster
        return np.asarray(booster.predict(matrix, pred_contrib=True, num_iteration=num_iteration))
    return contributions(trees, matrix)


@njit(cache=True, nogil=True)
def _leaf_values(zero, value, pattern, out):
    """A leaf's share of each of its path's distinct features' SHAP values (into `out`), for a
    row that follows the splits on the features whose bit is set in `pattern`: the Shapley
    value of the game v(S) = value x prod over the features j of (o_j if j in S else z_j), o_j
    = 1 if followed else 0, z_j its zero fraction. Feature i's value is value (o_i - z_i)
    sum_k w(k) [t^k] prod_{j != i} (z_j + o_j t), w(k) = k! (d - k - 1)! / d!: the product
    over every j is made once, and each i's factor divided out of it."""
    d = len(zero)
    weight = np.empty(d)
    weight[0] = 1.0 / d
    for k in range(1, d):
        weight[k] = weight[k - 1] * k / (d - k)
    whole = np.zeros(d + 1)  # the coefficients of prod_j (z_j + o_j t)
    whole[0] = 1.0
    for j in range(d):
        if (pattern >> j) & 1:
            for q in range(j + 1, 0, -1):
                whole[q] = whole[q] * zero[j] + whole[q - 1]
        else:
            for q in range(j + 1, 0, -1):
                whole[q] *= zero[j]
        whole[0] *= zero[j]
    for i in range(d):
        total = 0.0
        if (pattern >> i) & 1:  # divided by (z_i + t), from the top down
            below = whole[d]
            for k in range(d - 1, -1, -1):
                total += weight[k] * below
                below = whole[k] - zero[i] * below
            out[i] = value * (1.0 - zero[i]) * total
        else:  # divided by z_i
            for k in range(d):
                total += weight[k] * whole[k]
            out[i] = -value * total


@njit(cache=True)
def _fill_tables(slot_start, slot_zero, leaf_value, table_start, table):
    for leaf in range(len(leaf_value)):
        if table_start[leaf] < 0 or slot_start[leaf + 1] == slot_start[leaf]:
            continue  # no table, or a one-leaf tree's leaf: no feature's doing
        zero = slot_zero[slot_start[leaf] : slot_start[leaf + 1]]
        d = len(zero)
        for pattern in range(1 << d):
            at = table_start[leaf] + pattern * d
            _leaf_values(zero, leaf_value[leaf], pattern, table[at : at + d])


@njit(cache=True, nogil=True)
def _rows(
    rows,
    out,
    node_start,
    feature,
    threshold,
    kind,
    nan_right,
    zero_default,
    default_left,
    category_start,
    categories,
    entry_start,
    entry_parent,
    entry_via,
    entry_left,
    entry_slot,
    entry_leaf,
    leaf_value,
    slot_start,
    slot_feature,
    slot_zero,
    table_start,
    table,
):
    """Adds each row's SHAP values to `out`, tree by tree for a block of rows at a time (a
    tree's arrays and the block's rows stay in the cache): the row's decision at every split,
    then down the tree the pattern of splits it follows on each path, and at a leaf that
    pattern's values."""
    left = np.empty(max(len(feature), 1), dtype=np.bool_)
    longest = 1
    for t in range(len(entry_start) - 1):
        longest = max(longest, entry_start[t + 1] - entry_start[t])
    pattern = np.empty(longest, np.int64)
    scratch = np.empty(PATTERN_BITS)
    for block in range(0, rows.shape[0], ROW_BLOCK):
        for t in range(len(node_start) - 1):
            for r in range(block, min(block + ROW_BLOCK, rows.shape[0])):
                x = rows[r]
                for node in range(node_start[t], node_start[t + 1]):
                    value = x[feature[node]]
                    if kind[node] == CATEGORY:
                        right = category_goes_right(
                            value, categories, category_start[node], category_start[node + 1]
                        )
                    else:
                        right = number_goes_right(
                            value,
                            threshold[node],
                            nan_right[node],
                            zero_default[node],
                            default_left[node],
                        )
                    left[node] = not right
                first = entry_start[t]
                pattern[0] = -1  # every split followed, so far
                for e in range(first + 1, entry_start[t + 1]):
                    here = pattern[entry_parent[e]]
                    if left[entry_via[e]] != entry_left[e]:
                        here &= ~(1 << entry_slot[e])
                    pattern[e - first] = here
                    leaf = entry_leaf[e]
                    if leaf < 0:
                        continue
                    s0, s1 = slot_start[leaf], slot_start[leaf + 1]
                    d = s1 - s0
                    here &= (1 << d) - 1
                    if table_start[leaf] >= 0:
                        at = table_start[leaf] + here * d
                        for k in range(d):
                            out[r, slot_feature[s0 + k]] += table[at + k]
                    else:
                        values = scratch[:d]
                        _leaf_values(slot_zero[s0:s1], leaf_value[leaf], here, values)
                        for k in range(d):
                            out[r, slot_feature[s0 + k]] += values[k]


def compile_kernels() -> None:
    """Have numba compile (or load from its cache) the code here and in flat_trees now, as a
    server does at start, rather than on the first request that is scored or explained."""
    flat_trees.compile_kernels()
    trees = Trees.from_dump(ONE_SPLIT, 1)
    assert trees is not None
    contributions(trees, np.zeros((1, 1)))
