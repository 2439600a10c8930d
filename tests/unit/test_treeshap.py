"""cxml's compiled walk of the trees (models/flat_trees.py) gives LightGBM's own raw scores, to the
last bit, and its TreeSHAP (models/treeshap.py) LightGBM's own `pred_contrib` values, to 1e-9,
for every kind of split LightGBM makes: numbers with missing values as NaN, as zero or not at all,
categories (unseen, negative, fractional), a feature split on twice on one path, paths longer
than a table, one-leaf trees, the first rounds only."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pytest

from cxml.models import treeshap
from cxml.models.flat_trees import Trees, tree_probabilities, tree_raw_scores
from cxml.models.treeshap import tree_contributions


def _data(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 6))
    x[:, 4] = rng.integers(0, 7, rows)  # a category
    x[:, 5] = rng.integers(0, 3, rows) * rng.normal(size=rows)  # many exact zeros
    x[rng.random(x.shape) < 0.1] = np.nan
    logit = x[:, 0] - np.nan_to_num(x[:, 1]) ** 2 + (x[:, 4] == 3) + np.nan_to_num(x[:, 5])
    y = (rng.random(rows) < 1 / (1 + np.exp(-np.nan_to_num(logit)))).astype(int)
    return x, y


def _booster(rows: int = 3000, seed: int = 0, rounds: int = 40, **params: object) -> lgb.Booster:
    x, y = _data(rows, seed)
    settings = {
        "objective": "binary",
        "num_leaves": 31,
        "min_data_in_leaf": 5,
        "verbose": -1,
        "seed": seed,
        "num_threads": 1,
    }
    data = lgb.Dataset(x, y, categorical_feature=[4])
    return lgb.train(settings | params, data, num_boost_round=rounds)


def _unseen(rows: int = 800) -> np.ndarray:
    x, _ = _data(rows, seed=99)
    x[:20, 4] = [-1, 99, np.nan, 2.7, 6] * 4  # categories never seen, negative, NaN, fractional
    x[20:40, 5] = 0.0
    return x


def _largest_difference(booster: lgb.Booster, x: np.ndarray, **predict: object) -> float:
    """The largest difference of the contributions from LightGBM's; the raw scores must be
    LightGBM's own, and the probabilities within 1e-15."""
    rounds = predict.get("num_iteration")
    raw = booster.predict(x, raw_score=True, **predict)
    assert np.array_equal(tree_raw_scores(booster, x, rounds), raw)
    probability = booster.predict(x, **predict)
    assert np.abs(tree_probabilities(booster, x, rounds) - probability).max() <= 1e-15
    theirs = booster.predict(x, pred_contrib=True, **predict)
    ours = tree_contributions(booster, x, rounds)
    assert ours.shape == theirs.shape
    return float(np.abs(ours - theirs).max())


@pytest.mark.parametrize(
    ("params", "missing"),
    [
        ({}, "NaN"),  # missing values as NaN
        ({"zero_as_missing": True}, "Zero"),  # missing values as zero
        ({"use_missing": False}, "None"),  # no missing values: NaN reads as zero
    ],
)
def test_the_values_are_lightgbms_for_every_kind_of_split(params: dict, missing: str) -> None:
    booster = _booster(**params)
    dump = booster.dump_model()
    kinds = set()

    def walk(node: dict) -> None:
        if "split_index" in node:
            kinds.add((node["decision_type"], node["missing_type"]))
            walk(node["left_child"])
            walk(node["right_child"])

    for tree in dump["tree_info"]:
        walk(tree["tree_structure"])
    assert any(k == "==" for k, _ in kinds)  # categories were split
    assert ("<=", missing) in kinds
    assert _largest_difference(booster, _unseen()) <= 1e-9


def test_the_values_are_lightgbms_for_the_first_rounds_only() -> None:
    booster = _booster()
    assert _largest_difference(booster, _unseen(), num_iteration=7) <= 1e-9
    full = tree_contributions(booster, _unseen())
    assert np.abs(full - tree_contributions(booster, _unseen(), 7)).max() > 1e-6


@pytest.mark.parametrize(
    ("longest", "numbers"),
    [(2, 1 << 23), (12, 2000)],  # paths too long for a table; tables over the cap
)
def test_leaves_without_a_table_are_worked_out_per_row(monkeypatch, longest, numbers) -> None:
    booster = _booster(rows=4000, rounds=15, num_leaves=63, min_data_in_leaf=2)
    monkeypatch.setattr(treeshap, "TABLE_FEATURES", longest)
    monkeypatch.setattr(treeshap, "TABLE_NUMBERS", numbers)
    trees = Trees.of(booster)
    assert trees is not None
    start, table = treeshap.tables(trees)
    assert (start < 0).mean() > 0.3
    assert table.size <= numbers
    x = _unseen()
    theirs = booster.predict(x, pred_contrib=True)
    assert np.abs(treeshap.contributions(trees, x) - theirs).max() <= 1e-9


def test_a_one_leaf_tree_adds_to_the_base_value_only() -> None:
    x, y = _data(200, 1)
    settings = {"objective": "binary", "verbose": -1, "min_data_in_leaf": 500}  # cannot split
    booster = lgb.train(settings, lgb.Dataset(x, y), num_boost_round=3)
    ours = tree_contributions(booster, x[:50])
    assert _largest_difference(booster, x[:50]) <= 1e-9
    assert not ours[:, :-1].any()


def test_the_values_add_up_to_the_raw_score_and_keep_no_stale_tables() -> None:
    booster = _booster(seed=3)
    x = _unseen(300)
    ours = tree_contributions(booster, x)
    assert np.allclose(ours.sum(axis=1), booster.predict(x, raw_score=True), atol=1e-9)
    other = _booster(seed=4)  # another booster gets its own tables
    assert _largest_difference(other, x) <= 1e-9


def test_rows_of_another_width_are_refused_not_read_past() -> None:
    booster = _booster()
    x = _unseen(50)
    for wrong in (x[:, :-1], np.column_stack([x, x[:, 0]])):
        with pytest.raises(ValueError, match="features"):
            tree_raw_scores(booster, wrong)
        with pytest.raises(ValueError, match="features"):
            tree_contributions(booster, wrong)
