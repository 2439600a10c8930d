"""The control group and exploration of every run (actions/experiment.py): exact shares per risk
band, random draws, and propensities that are the true probabilities of each option."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cxml.actions.experiment import CONTROL, EXPLORE, POLICY, Limits, decision_ids, randomise

NAMES = ["call", "discount", "email"]


def problem(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    allowed = rng.random((n, 3)) < 0.6
    allowed[: n // 10] = False  # a tenth has no eligible action (contact cap, rules)
    chosen = np.array(
        [NAMES[rng.choice(np.flatnonzero(row))] if row.any() and rng.random() < 0.7 else "none"
         for row in allowed],
        dtype=object,
    )  # fmt: skip
    bands = rng.choice(np.array(["high", "medium", "low"], dtype=object), n, p=[0.2, 0.3, 0.5])
    return chosen, allowed, bands


def test_the_holdout_is_the_configured_share_of_every_band_drawn_at_random():
    chosen, allowed, bands = problem(3000)
    first = randomise(chosen, allowed, NAMES, bands, 0.05, 0.1, np.random.default_rng(1))
    second = randomise(chosen, allowed, NAMES, bands, 0.05, 0.1, np.random.default_rng(2))
    for band in ("high", "medium", "low"):
        rows = bands == band
        held = (first.decision[rows] == CONTROL).sum()
        assert held == round(0.05 * rows.sum())
        assert (first.action[first.decision == CONTROL] == "none").all()
    a, b = first.decision == CONTROL, second.decision == CONTROL
    assert (a & b).sum() < 0.3 * a.sum()  # another seed, other customers
    held_at = np.flatnonzero(a)
    assert held_at.min() < 300 and held_at.max() > 2700  # spread over the rows, not a block


def test_exploration_draws_only_eligible_actions():
    chosen, allowed, bands = problem(3000)
    draws = randomise(chosen, allowed, NAMES, bands, 0.05, 0.2, np.random.default_rng(3))
    explored = np.flatnonzero(draws.decision == EXPLORE)
    assert len(explored) > 400
    for i in explored:
        assert allowed[i, NAMES.index(draws.action[i])]
    assert (draws.decision[~allowed.any(axis=1)] != EXPLORE).all()
    kept = draws.decision == POLICY
    assert (draws.action[kept] == chosen[kept]).all()


def test_propensities_sum_to_one_over_each_customers_options():
    chosen, allowed, bands = problem(2000)
    draws = randomise(chosen, allowed, NAMES, bands, 0.05, 0.1, np.random.default_rng(4))
    assert np.allclose(draws.probabilities.sum(axis=1), 1.0)
    assert (draws.probabilities[:, 1:][~allowed] == 0).all()  # no weight on closed actions
    assert (draws.propensity > 0).all()
    closed = ~allowed.any(axis=1)
    assert (draws.propensity[closed] == 1.0).all()  # no option but none


def test_propensities_are_the_frequencies_the_draws_give():
    chosen, allowed, bands = problem(200, seed=5)
    counts = np.zeros((200, 4))
    options = ["none", *NAMES]
    for seed in range(2000):
        draws = randomise(chosen, allowed, NAMES, bands, 0.1, 0.3, np.random.default_rng(seed))
        counts[np.arange(200), [options.index(a) for a in draws.action]] += 1
    expected = randomise(chosen, allowed, NAMES, bands, 0.1, 0.3, np.random.default_rng(0))
    assert np.abs(counts / 2000 - expected.probabilities).max() < 0.05


def test_decision_ids_are_stable_distinct_and_carry_no_id():
    ids = pd.Index(["C1", "C2", "C3"])
    at = pd.Timestamp("2025-06-30", tz="UTC")
    first = decision_ids(ids, at, "model|3")
    assert list(first) == list(decision_ids(ids, at, "model|3"))
    assert len(set(first)) == 3 and not any("C1" in d for d in first)
    assert first[0] != decision_ids(ids, at, "model|4")[0]


@pytest.mark.parametrize("holdout", [0.0, 0.5])
def test_no_holdout_and_half(holdout):
    chosen, allowed, bands = problem(500)
    draws = randomise(chosen, allowed, NAMES, bands, holdout, 0.0, np.random.default_rng(6))
    assert (draws.decision == CONTROL).sum() == sum(
        round(holdout * (bands == b).sum()) for b in ("high", "medium", "low")
    )
    if holdout == 0.0:
        assert (draws.action == chosen).all()


def test_exploration_keeps_the_budget_and_capacities():
    chosen, allowed, bands = problem(2000, seed=8)
    costs = np.array([40.0, 15.0, 1.0])  # call, discount, email
    spent = sum(costs[NAMES.index(a)] for a in chosen if a != "none")
    limits = Limits(costs, budget=spent, capacity=np.array([300, -1, -1]))
    chosen[np.flatnonzero(chosen == "call")[300:]] = "email"  # the policy kept the capacity
    draws = randomise(chosen, allowed, NAMES, bands, 0.05, 0.3, np.random.default_rng(9), limits)
    taken = [a for a in draws.action if a != "none"]
    assert sum(costs[NAMES.index(a)] for a in taken) <= spent + 1e-9
    assert taken.count("call") <= 300
    assert (draws.decision == EXPLORE).sum() > 100  # the control group freed room to explore
    assert np.allclose(draws.probabilities.sum(axis=1), 1.0)
