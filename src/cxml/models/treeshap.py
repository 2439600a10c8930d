"""Exact TreeSHAP for a LightGBM booster, the values of LightGBM's `pred_contrib` (path-dependent,
base value last) computed from per-leaf tables.

A leaf's share of a feature's SHAP value depends on the row only through which of the splits on
its path the row follows, a yes/no per distinct feature of the path. So each leaf's values for
every such pattern are worked out once per booster (`Trees`), and a row then costs, per leaf, a
look at its path and a few additions, not LightGBM's recursion over every path element (the
"Fast TreeSHAP v2" idea, Yang 2021). A leaf whose path has more distinct features than
`TABLE_FEATURES` has no table (it would double with each one): its values are worked out per
row, in the same way. Decisions follow LightGBM's own (missing values, zero, categories).
"""

from __future__ import annotations

import os
import threading
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import lightgbm as lgb
import numpy as np
from numba import njit

#: The most distinct features on a leaf's path for which its values are kept in a table (a
#: table holds 2^d x d numbers; longer paths are worked out per row).
TABLE_FEATURES = 8

#: Rows taken through each tree together (`_rows`).
ROW_BLOCK = 512

#: A pattern is an int64's bits, one per distinct feature of the path.
PATTERN_BITS = 62

_NUMERIC, _CATEGORY = 0, 1
_MISSING = {"None": 0, "Zero": 1, "NaN": 2}
_ZERO = 1e-35  # LightGBM's kZeroThreshold (a float, as there)


@dataclass(frozen=True)
class Trees:
    """A booster's trees as flat arrays. Tree t's split nodes are `node_start[t]` up to
    `node_start[t+1]`, and its nodes and leaves in depth-first order ("entries", each after its
    parent) `entry_start[t]` up to `entry_start[t+1]`: an entry's parent, the split that leads
    to it (`via`, which way, and the place of that split's feature among its path's distinct
    features), and its leaf (-1: a split). A leaf's distinct features (column, zero fraction:
    the share of the training rows that took its path's splits on that feature) are
    `slot_start[leaf]` up to `slot_start[leaf+1]`; `table[table_start[leaf]:]` holds its values
    per pattern, or `table_start` is -1 when they are worked out per row."""

    node_start: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    kind: np.ndarray
    missing: np.ndarray
    default_left: np.ndarray
    category_start: np.ndarray  # categories that go left, node i: categories[start[i]:start[i+1]]
    categories: np.ndarray
    entry_start: np.ndarray
    entry_parent: np.ndarray
    entry_via: np.ndarray
    entry_left: np.ndarray
    entry_slot: np.ndarray
    entry_leaf: np.ndarray
    leaf_value: np.ndarray
    slot_start: np.ndarray
    slot_feature: np.ndarray
    slot_zero: np.ndarray
    table_start: np.ndarray
    table: np.ndarray
    expected: float  # the base value: every tree's mean output over its training rows
    columns: int

    @classmethod
    def of(cls, booster: lgb.Booster, num_iteration: int | None = None) -> Trees | None:
        """The booster's first `num_iteration` trees (None: as `predict` takes them); None for
        a model of several outputs per round, or a path with more distinct features than a
        pattern has bits."""
        return cls.from_dump(booster.dump_model(num_iteration=num_iteration), booster.num_feature())

    @classmethod
    def from_dump(cls, dump: dict, columns: int) -> Trees | None:
        """`of` a model dump (`Booster.dump_model`) over `columns` features."""
        if dump.get("num_tree_per_iteration", 1) != 1:
            return None
        flat = _Flat()
        for tree in dump["tree_info"]:
            flat.add_tree(tree["tree_structure"])
        arrays = flat.arrays()
        sizes = np.diff(arrays["slot_start"])
        if len(sizes) and sizes.max() >= PATTERN_BITS:
            return None
        tabled = sizes <= TABLE_FEATURES
        room = np.where(tabled, (1 << np.minimum(sizes, TABLE_FEATURES)) * sizes, 0)
        table_start = np.where(tabled, np.cumsum(room) - room, -1)
        table = np.empty(int(room.sum()))
        _fill_tables(
            arrays["slot_start"], arrays["slot_zero"], arrays["leaf_value"], table_start, table
        )
        return cls(
            **arrays,
            table_start=table_start,
            table=table,
            expected=flat.expected,
            columns=columns,
        )

    def contributions(self, matrix: np.ndarray) -> np.ndarray:
        """Rows x (columns + 1): each feature's SHAP value in raw score, the base value last."""
        rows = np.ascontiguousarray(matrix, dtype=np.float64)
        out = np.zeros((len(rows), self.columns + 1))
        out[:, -1] = self.expected
        arrays = [getattr(self, name) for name in _KERNEL_ARRAYS]
        threads = min(os.cpu_count() or 1, -(-len(rows) // ROW_BLOCK))
        if threads <= 1:
            _rows(rows, out, *arrays)
            return out
        # the compiled code lets go of the GIL: each thread fills its own rows of `out`
        parts = np.array_split(np.arange(len(rows)), threads)
        with ThreadPoolExecutor(threads) as pool:
            done = [
                pool.submit(_rows, rows[p[0] : p[-1] + 1], out[p[0] : p[-1] + 1], *arrays)
                for p in parts
            ]
            for future in done:
                future.result()
        return out


#: The arrays `_rows` reads, in its order.
_KERNEL_ARRAYS = (
    "node_start",
    "feature",
    "threshold",
    "kind",
    "missing",
    "default_left",
    "category_start",
    "categories",
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
    "table_start",
    "table",
)


class _Flat:
    """Lists that `Trees.of` fills, a tree at a time, from LightGBM's model dump."""

    def __init__(self) -> None:
        self.node_start: list[int] = [0]
        self.feature: list[int] = []
        self.threshold: list[float] = []
        self.kind: list[int] = []
        self.missing: list[int] = []
        self.default_left: list[bool] = []
        self.category_start: list[int] = [0]
        self.categories: list[int] = []
        self.entry_start: list[int] = [0]
        self.entry_parent: list[int] = []
        self.entry_via: list[int] = []
        self.entry_left: list[bool] = []
        self.entry_slot: list[int] = []
        self.entry_leaf: list[int] = []
        self.leaf_value: list[float] = []
        self.slot_start: list[int] = [0]
        self.slot_feature: list[int] = []
        self.slot_zero: list[float] = []
        self.expected = 0.0

    def add_tree(self, root: dict) -> None:
        if "split_index" in root:
            self._add_splits(root)
        else:  # a single leaf: the same output for every row, no feature's doing
            self.expected += float(root["leaf_value"])
        self.node_start.append(len(self.feature))
        self.entry_start.append(len(self.entry_leaf))

    def _add_splits(self, root: dict) -> None:
        first = len(self.entry_leaf)
        total = float(root["internal_count"])
        # node, its parent entry, the split leading to it (node, left?, slot), the path's
        # distinct features (column -> slot) and their zero fractions
        Item = tuple[dict, int, int, bool, int, dict[int, int], list[float]]
        stack: list[Item] = [(root, -1, -1, False, 0, {}, [])]
        while stack:
            node, parent, via, left, slot, slots, zero = stack.pop()
            here = len(self.entry_leaf) - first
            self.entry_parent.append(parent)
            self.entry_via.append(via)
            self.entry_left.append(left)
            self.entry_slot.append(slot)
            if "split_index" not in node:
                value = float(node["leaf_value"])
                self.expected += node["leaf_count"] / total * value
                self.entry_leaf.append(len(self.leaf_value))
                self.leaf_value.append(value)
                self.slot_feature.extend(slots)
                self.slot_zero.extend(zero)
                self.slot_start.append(len(self.slot_feature))
                continue
            self.entry_leaf.append(-1)
            at = len(self.feature)
            self._add_node(node)
            column = int(node["split_feature"])
            # a feature split on again further down the path keeps its place: a row must
            # follow both splits, and the zero fractions multiply
            below = slots if column in slots else {**slots, column: len(slots)}
            place = below[column]
            count = float(node["internal_count"])
            for child, goes_left in ((node["right_child"], False), (node["left_child"], True)):
                fractions = zero if place < len(zero) else [*zero, 1.0]
                fractions = [*fractions]
                fractions[place] *= _count(child) / count
                stack.append((child, here, at, goes_left, place, below, fractions))

    def _add_node(self, node: dict) -> None:
        self.feature.append(int(node["split_feature"]))
        self.missing.append(_MISSING[node["missing_type"]])
        self.default_left.append(bool(node["default_left"]))
        if node["decision_type"] == "==":
            self.kind.append(_CATEGORY)
            self.threshold.append(0.0)
            self.categories.extend(int(c) for c in str(node["threshold"]).split("||"))
        else:
            self.kind.append(_NUMERIC)
            self.threshold.append(float(node["threshold"]))
        self.category_start.append(len(self.categories))

    def arrays(self) -> dict[str, np.ndarray]:
        floats = ("threshold", "leaf_value", "slot_zero")
        flags = ("default_left", "entry_left")
        small = ("kind", "missing")
        out: dict[str, np.ndarray] = {}
        for name in _KERNEL_ARRAYS[:-2]:
            kind = np.float64 if name in floats else np.bool_ if name in flags else np.int64
            out[name] = np.asarray(getattr(self, name), dtype=np.int8 if name in small else kind)
        return out


def _count(node: dict) -> float:
    return float(node["internal_count"] if "split_index" in node else node["leaf_count"])


@njit(cache=True, nogil=True)
def _leaf_values(zero, value, pattern, out):
    """A leaf's share of each of its path's distinct features' SHAP values (into `out`), for a
    row that follows the splits on the features whose bit is set in `pattern`: the Shapley
    value of the game v(S) = value x prod(1 if j in S and followed, else its zero fraction)."""
    d = len(zero)
    weight = np.empty(d)  # |S|! (d - |S| - 1)! / d!
    weight[0] = 1.0 / d
    for k in range(1, d):
        weight[k] = weight[k - 1] * k / (d - k)
    poly = np.empty(d)
    for i in range(d):
        # the sets S of followed features: e_m of their zero fractions sums prod over B \ S
        poly[0] = 1.0
        size = 0
        rest = 1.0  # prod of the zero fractions of the features not followed (i aside)
        for j in range(d):
            if j == i:
                continue
            if (pattern >> j) & 1:
                size += 1
                poly[size] = 0.0
                for q in range(size, 0, -1):
                    poly[q] += poly[q - 1] * zero[j]
            else:
                rest *= zero[j]
        total = 0.0
        for k in range(size + 1):
            total += weight[k] * poly[size - k]
        one = float((pattern >> i) & 1)
        out[i] = value * (one - zero[i]) * rest * total


@njit(cache=True)
def _fill_tables(slot_start, slot_zero, leaf_value, table_start, table):
    for leaf in range(len(leaf_value)):
        if table_start[leaf] < 0:
            continue
        zero = slot_zero[slot_start[leaf] : slot_start[leaf + 1]]
        d = len(zero)
        for pattern in range(1 << d):
            at = table_start[leaf] + pattern * d
            _leaf_values(zero, leaf_value[leaf], pattern, table[at : at + d])


@njit(cache=True, nogil=True)
def _goes_left(x, kind, missing, default_left, threshold, categories, first, last):
    """LightGBM's decision at a split node (tree.h, NumericalDecision and CategoricalDecision);
    a category split sends left the categories `categories[first:last]`."""
    if kind == _CATEGORY:
        if np.isnan(x) or int(x) < 0:
            return False
        value = int(x)
        for c in range(first, last):  # noqa: SIM110 (numba compiles a loop, not a generator)
            if categories[c] == value:
                return True
        return False
    if np.isnan(x) and missing != 2:
        x = 0.0
    if (missing == 1 and -_ZERO <= x <= _ZERO) or (missing == 2 and np.isnan(x)):
        return default_left
    return x <= threshold


@njit(cache=True, nogil=True)
def _rows(
    rows,
    out,
    node_start,
    feature,
    threshold,
    kind,
    missing,
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
                    left[node] = _goes_left(
                        x[feature[node]],
                        kind[node],
                        missing[node],
                        default_left[node],
                        threshold[node],
                        categories,
                        category_start[node],
                        category_start[node + 1],
                    )
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


_made: weakref.WeakKeyDictionary[lgb.Booster, dict[int | None, Trees | None]] = (
    weakref.WeakKeyDictionary()
)
_lock = threading.Lock()


def tree_contributions(
    booster: lgb.Booster, matrix: np.ndarray, num_iteration: int | None = None
) -> np.ndarray:
    """What `booster.predict(matrix, pred_contrib=True, num_iteration=...)` gives for a binary
    or regression model, from tables made once per booster and kept while it lives."""
    with _lock:
        kept = _made.setdefault(booster, {})
    if num_iteration not in kept:
        kept[num_iteration] = Trees.of(booster, num_iteration)
    trees = kept[num_iteration]
    if trees is None:  # not a model this module reads: LightGBM's own TreeSHAP
        return np.asarray(booster.predict(matrix, pred_contrib=True, num_iteration=num_iteration))
    return trees.contributions(matrix)


#: The smallest tree: one split on the only feature.
_ONE_SPLIT = {
    "tree_info": [
        {
            "tree_structure": {
                "split_index": 0,
                "split_feature": 0,
                "threshold": 0.5,
                "decision_type": "<=",
                "default_left": True,
                "missing_type": "None",
                "internal_count": 2,
                "left_child": {"leaf_value": 0.0, "leaf_count": 1},
                "right_child": {"leaf_value": 1.0, "leaf_count": 1},
            }
        }
    ]
}


def compile_kernels() -> None:
    """Have numba compile (or load from its cache) the code above now, as a server does at
    start, rather than on the first request that is explained."""
    trees = Trees.from_dump(_ONE_SPLIT, 1)
    assert trees is not None
    trees.contributions(np.zeros((1, 1)))
