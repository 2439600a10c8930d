"""A LightGBM booster's trees as flat arrays, for compiled code (numba) to walk: the reasons'
TreeSHAP (models/treeshap.py). `goes_right` is LightGBM's own decision at a split (tree.h):
missing values as NaN, as zero or not at all, and categories. The compiled code takes a block of
rows through one tree at a time, so the tree's arrays and the rows stay in the cache, and splits
the rows over the cores (it lets go of the GIL).
"""

from __future__ import annotations

import os
import tempfile
import threading
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from functools import cached_property
from pathlib import Path

import lightgbm as lgb
import numpy as np
from numba import njit
from numba.core import config as numba_config
from scipy.special import expit


def _writable(folder: Path) -> bool:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=folder).close()
    except OSError:
        return False
    return True


# numba keeps the compiled code beside these files (`cache=True`, decided as each function
# below is defined); an install it cannot write to gets a temporary folder instead, where numba
# would refuse to define them.
# (numba's config sets its names at run time, unseen by mypy)
_CACHE_DIR = numba_config.CACHE_DIR  # type: ignore[attr-defined]
if not _CACHE_DIR and not _writable(Path(__file__).parent / "__pycache__"):
    numba_config.CACHE_DIR = str(Path(tempfile.gettempdir()) / "cxml-numba")  # type: ignore[attr-defined]

#: Rows taken through each tree together, and of those, how many take each step down together.
ROW_BLOCK = 512
LOCKSTEP = 32


def _threads() -> int:
    """Threads a walk may use: as many as LightGBM's (OpenMP's setting, which the service sets
    to one per worker: "4" or, nested, "4,2"), else the cores."""
    setting = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    return int(setting) if setting.isdigit() and int(setting) > 0 else os.cpu_count() or 1


_THREADS = _threads()  # read once: a request's few rows never split

#: A split node's `kind`: on a number or on a category.
NUMBER, CATEGORY = 0, 1
_ZERO = 1e-35  # LightGBM's kZeroThreshold (a float, as there)


@dataclass(frozen=True, eq=False)  # told apart by identity (kept per booster)
class Trees:
    """A booster's trees as flat arrays. Tree t's split nodes are `node_start[t]` up to
    `node_start[t+1]`, and its nodes and leaves in depth-first order ("entries", each after its
    parent) `entry_start[t]` up to `entry_start[t+1]`: an entry's parent, the split that leads
    to it (`via`, which way, and the place of that split's feature among its path's distinct
    features), and its leaf (-1: a split). A leaf's distinct features (column, zero fraction:
    the share of the training rows that took its path's splits on that feature) are
    `slot_start[leaf]` up to `slot_start[leaf+1]` (none: a one-leaf tree's). `root`,
    `depth` and `children` take a row down a tree, as `predict` does."""

    node_start: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    kind: np.ndarray
    nan_right: np.ndarray  # where the split sends a missing value (NaN)
    zero_default: np.ndarray  # whether it sends zero its default way (missing values as zero)
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
    root: np.ndarray  # per tree, its first split node, or ~ its only leaf
    depth: np.ndarray  # per tree, the most splits on a path from its root to a leaf
    children: np.ndarray  # split node n sends a row left to children[2n], right to [2n + 1]:
    # a split node, or ~ a leaf
    expected: float  # the base value: every tree's mean output over its training rows
    columns: int

    @classmethod
    def of(cls, booster: lgb.Booster, num_iteration: int | None = None) -> Trees | None:
        """The booster's first `num_iteration` trees (None: as `predict` takes them); None for
        a model of several outputs per round."""
        return cls.from_dump(booster.dump_model(num_iteration=num_iteration), booster.num_feature())

    @classmethod
    def from_dump(cls, dump: dict, columns: int) -> Trees | None:
        """`of` a model dump (`Booster.dump_model`) over `columns` features."""
        if dump.get("num_tree_per_iteration", 1) != 1:
            return None
        flat = _Flat()
        for tree in dump["tree_info"]:
            flat.add_tree(tree["tree_structure"])
        return cls(**flat.arrays(), expected=flat.expected, columns=columns)

    @cached_property
    def most_path_features(self) -> int:
        """The most distinct features on one leaf's path (0: no split)."""
        sizes = np.diff(self.slot_start)
        return int(sizes.max()) if len(sizes) else 0

    def rows(self, matrix: np.ndarray) -> np.ndarray:
        """`matrix` as the compiled walks read it; as wide as the trees' features, as LightGBM
        checks too (the walks themselves do not check where they read)."""
        rows = np.ascontiguousarray(matrix, dtype=np.float64)
        if rows.ndim != 2 or rows.shape[1] != self.columns:
            raise ValueError(
                f"the rows have {rows.shape[1:]} features, the trees read {self.columns}"
            )
        return rows

    def raw_scores(self, matrix: np.ndarray) -> np.ndarray:
        """Per row, the sum of the trees' outputs: `predict(..., raw_score=True)`."""
        rows = self.rows(matrix)
        arrays = [getattr(self, name) for name in _PREDICT_ARRAYS]
        return over_rows(_sums, rows, np.zeros(len(rows)), arrays)


#: The split nodes' arrays a walk reads to decide (`number_goes_right`, `category_goes_right`).
SPLIT_ARRAYS = (
    "feature",
    "threshold",
    "kind",
    "nan_right",
    "zero_default",
    "default_left",
    "category_start",
    "categories",
)

#: The arrays `_sums` reads, in its order.
_PREDICT_ARRAYS = ("root", "depth", *SPLIT_ARRAYS, "children", "leaf_value")


def over_rows(kernel: Callable, rows: np.ndarray, out: np.ndarray, arrays: list) -> np.ndarray:
    """`kernel(rows, out, *arrays)`, the rows split over the cores when there are enough: the
    compiled code lets go of the GIL, and each thread fills its own rows of `out`."""
    threads = min(_THREADS, -(-len(rows) // ROW_BLOCK))
    if threads <= 1:
        kernel(rows, out, *arrays)
        return out
    parts = np.array_split(np.arange(len(rows)), threads)
    with ThreadPoolExecutor(threads) as pool:
        done = [
            pool.submit(kernel, rows[p[0] : p[-1] + 1], out[p[0] : p[-1] + 1], *arrays)
            for p in parts
        ]
        for future in done:
            future.result()
    return out


class _Flat:
    """Lists that `Trees.of` fills, a tree at a time, from LightGBM's model dump."""

    def __init__(self) -> None:
        self.node_start: list[int] = [0]
        self.root: list[int] = []  # per tree, its first split node, or ~ its only leaf
        self.depth: list[int] = []  # per tree, the most splits on a path
        self.left_child: list[int] = []
        self.right_child: list[int] = []
        self.feature: list[int] = []
        self.threshold: list[float] = []
        self.kind: list[int] = []
        self.nan_right: list[bool] = []
        self.zero_default: list[bool] = []
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
            self.root.append(len(self.feature))
            self.depth.append(0)
            self._add_splits(root)
        else:  # a single leaf: the same output for every row, no feature's doing
            self.root.append(~len(self.leaf_value))
            self.depth.append(0)
            self.expected += float(root["leaf_value"])
            self.leaf_value.append(float(root["leaf_value"]))
            self.slot_start.append(len(self.slot_feature))  # no features
        self.node_start.append(len(self.feature))
        self.entry_start.append(len(self.entry_leaf))

    def _add_splits(self, root: dict) -> None:
        first = len(self.entry_leaf)
        total = float(root["internal_count"])
        # node, its parent entry, the split leading to it (node, left?, slot), the path's
        # distinct features (column -> slot) and their zero fractions
        Item = tuple[dict, int, int, bool, int, dict[int, int], list[float], int]
        stack: list[Item] = [(root, -1, -1, False, 0, {}, [], 0)]
        while stack:
            node, parent, via, left, slot, slots, zero, deep = stack.pop()
            self.depth[-1] = max(self.depth[-1], deep)
            here = len(self.entry_leaf) - first
            if via >= 0:  # where the split sends a row: a split node, or ~ a leaf
                child = len(self.feature) if "split_index" in node else ~len(self.leaf_value)
                (self.left_child if left else self.right_child)[via] = child
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
                fractions = [*zero] if place < len(zero) else [*zero, 1.0]
                fractions[place] *= _count(child) / count
                stack.append((child, here, at, goes_left, place, below, fractions, deep + 1))

    def _add_node(self, node: dict) -> None:
        self.feature.append(int(node["split_feature"]))
        self.left_child.append(0)  # set when the child is added
        self.right_child.append(0)
        # tree.h's decisions: a NaN reads as zero unless missing values are NaN; zero goes
        # the default way when missing values are zero; a category split sends NaN right
        default_left, missing = bool(node["default_left"]), node["missing_type"]
        self.default_left.append(default_left)
        self.zero_default.append(missing == "Zero")
        if node["decision_type"] == "==" or missing == "None":
            self.nan_right.append(node["decision_type"] == "==" or float(node["threshold"]) < 0.0)
        else:
            self.nan_right.append(not default_left)
        if node["decision_type"] == "==":
            self.kind.append(CATEGORY)
            self.threshold.append(0.0)
            self.categories.extend(int(c) for c in str(node["threshold"]).split("||"))
        else:
            self.kind.append(NUMBER)
            self.threshold.append(float(node["threshold"]))
        self.category_start.append(len(self.categories))

    def arrays(self) -> dict[str, np.ndarray]:
        floats = ("threshold", "leaf_value", "slot_zero")
        flags = ("default_left", "entry_left", "nan_right", "zero_default")
        small = ("kind",)
        out: dict[str, np.ndarray] = {}
        for name in _FIELDS:
            kind = np.float64 if name in floats else np.bool_ if name in flags else np.int64
            if name == "children":
                out[name] = np.column_stack([self.left_child, self.right_child]).ravel()
                out[name] = out[name].astype(np.int64)
                continue
            out[name] = np.asarray(getattr(self, name), dtype=np.int8 if name in small else kind)
        return out


def _count(node: dict) -> float:
    return float(node["internal_count"] if "split_index" in node else node["leaf_count"])


#: The arrays a `_Flat` fills, in `Trees`' order.
_FIELDS = tuple(f.name for f in fields(Trees) if f.name not in ("expected", "columns"))


# LightGBM's decisions at a split (tree.h, NumericalDecision and CategoricalDecision), in two
# small functions the compiled walks call by the split's kind: kept small, they are compiled
# into the walk, and a number's decision, made with selects, lets the rows walked together run
# side by side (a call of one function for both kinds was several times slower, `make bench`).


@njit(cache=True, nogil=True)
def number_goes_right(x, threshold, nan_right, zero_default, default_left):
    """Where a split on a number sends `x`: `not x <= t` is true for NaN, `x > t` false."""
    right = not (x <= threshold) if nan_right else (x > threshold)
    zero = zero_default & (x >= -_ZERO) & (x <= _ZERO)
    return (not default_left) if zero else right


@njit(cache=True, nogil=True)
def category_goes_right(x, categories, first, last):
    """Where a split on a category sends `x`: left only a category in `categories[first:last]`
    (NaN and negative values go right)."""
    right = True
    if not (np.isnan(x) or int(x) < 0):
        value = int(x)
        for c in range(first, last):
            if categories[c] == value:
                right = False
                break
    return right


@njit(cache=True, nogil=True)
def _sums(
    rows,
    out,
    root,
    depth,
    feature,
    threshold,
    kind,
    nan_right,
    zero_default,
    default_left,
    category_start,
    categories,
    children,
    leaf_value,
):
    """Adds to `out` each row's leaf output of every tree, in the trees' order (as LightGBM
    sums them). A block of rows goes through a tree together, `LOCKSTEP` rows a step down at a
    time: their walks do not wait on each other, so the processor overlaps them."""
    at = np.empty(LOCKSTEP, dtype=np.int64)
    for block in range(0, rows.shape[0], ROW_BLOCK):
        end = min(block + ROW_BLOCK, rows.shape[0])
        for t in range(len(root)):
            for first in range(block, end, LOCKSTEP):
                many = min(LOCKSTEP, end - first)
                at[:many] = root[t]
                for _ in range(depth[t]):
                    for i in range(many):
                        n = at[i]
                        if n < 0:
                            continue  # at its leaf
                        x = rows[first + i, feature[n]]
                        if kind[n] == CATEGORY:
                            right = category_goes_right(
                                x, categories, category_start[n], category_start[n + 1]
                            )
                        else:
                            right = number_goes_right(
                                x, threshold[n], nan_right[n], zero_default[n], default_left[n]
                            )
                        at[i] = children[2 * n + right]
                for i in range(many):
                    out[first + i] += leaf_value[~at[i]]


_made: weakref.WeakKeyDictionary[lgb.Booster, dict[int | None, Trees | None]] = (
    weakref.WeakKeyDictionary()
)
_lock = threading.Lock()


def trees_of(booster: lgb.Booster, num_iteration: int | None = None) -> Trees | None:
    """`Trees.of` the booster, made once and kept while it lives (None: a model this module
    does not read, left to LightGBM)."""
    with _lock:
        kept = _made.setdefault(booster, {})
    if num_iteration not in kept:
        kept[num_iteration] = Trees.of(booster, num_iteration)
    return kept[num_iteration]


#: The smallest tree: one split on the only feature.
ONE_SPLIT = {
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


def tree_raw_scores(
    booster: lgb.Booster, matrix: np.ndarray, num_iteration: int | None = None
) -> np.ndarray:
    """What `booster.predict(matrix, raw_score=True, num_iteration=...)` gives, the same to the
    last bit (the same sums in the same order; tests/unit/test_treeshap.py)."""
    trees = trees_of(booster, num_iteration)
    if trees is None:
        found = booster.predict(matrix, raw_score=True, num_iteration=num_iteration)
        return np.asarray(found, dtype=float)
    return trees.raw_scores(matrix)


def tree_probabilities(
    booster: lgb.Booster, matrix: np.ndarray, num_iteration: int | None = None
) -> np.ndarray:
    """What a binary booster's `predict(matrix, num_iteration=...)` gives: the logistic of its
    raw score (within a few units in the last place of LightGBM's own)."""
    return np.asarray(expit(tree_raw_scores(booster, matrix, num_iteration)))


def compile_kernels() -> None:
    """Have numba compile (or load from its cache) the walk now, as a server does at start,
    rather than on the first request."""
    trees = Trees.from_dump(ONE_SPLIT, 1)
    assert trees is not None
    trees.raw_scores(np.zeros((1, 1)))
