"""Is the simulated world a fair test? Neither trivial nor hopeless, and targeting must matter."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from cxml.data.simulate import ACTIONS, SimConfig, Simulation, simulate
from tests.helpers import roc_auc

BUDGET_SHARE = 0.05  # money for contacting ~5% of the base at an average cost of 20


@pytest.fixture(scope="module")
def sim() -> Simulation:
    return simulate(SimConfig(customers=20_000, seed=2024))


@pytest.fixture(scope="module")
def outcome(sim: Simulation) -> pd.Series:
    """Realised churn in the truth horizon: a cancel event in [cutoff, cutoff + horizon)."""
    cutoff = sim.config.cutoff
    end = cutoff + pd.Timedelta(days=int(sim.truth["horizon_days"].iloc[0]))
    ev = sim.events
    window = ev[
        (ev["event_type"] == "cancel") & (ev["event_time"] >= cutoff) & (ev["event_time"] < end)
    ]
    return sim.truth["customer_id"].isin(set(window["customer_id"].astype(str))).astype(int)


def test_churn_per_90_days_is_plausible(outcome):
    assert 0.05 <= outcome.mean() <= 0.30


def test_realised_churn_agrees_with_the_truth_it_was_sampled_from(sim, outcome):
    p = sim.truth["p_churn_observed"].to_numpy()
    se = np.sqrt((p * (1 - p)).sum()) / len(p)
    assert abs(outcome.mean() - p.mean()) < 3 * se


def test_nps_spreads_over_the_whole_scale(sim):
    nps = sim.events.loc[sim.events["event_type"] == "survey_nps", "value"]
    assert set(nps.unique()) == set(map(float, range(11)))
    assert nps.std() > 1.5
    assert 0.1 < (nps <= 6).mean() < 0.6  # detractors exist, but are not everyone


def test_oracle_auc_is_neither_trivial_nor_hopeless(sim, outcome):
    auc = roc_auc(outcome.to_numpy(), sim.truth["p_churn_observed"].to_numpy())
    assert 0.75 <= auc <= 0.92, auc


def test_naive_arm_differences_recover_the_true_effects(sim, outcome):
    """Among treated customers the action was drawn uniformly: arms are randomized."""
    truth = sim.truth
    for a, b in itertools.combinations(ACTIONS, 2):
        in_a, in_b = truth["logged_action"] == a, truth["logged_action"] == b
        naive = outcome[in_a].mean() - outcome[in_b].mean()
        treated = in_a | in_b
        true = (truth.loc[treated, f"p_churn_{a}"] - truth.loc[treated, f"p_churn_{b}"]).mean()
        se = np.sqrt(outcome[in_a].var() / in_a.sum() + outcome[in_b].var() / in_b.sum())
        assert abs(naive - true) < 2.58 * se, (a, b, naive, true, se)  # 99% interval


def net_gains(truth: pd.DataFrame) -> np.ndarray:
    uplift = [truth["p_churn_none"] - truth[f"p_churn_{a}"] for a in ACTIONS]
    value = truth["customer_value"].to_numpy()
    cost = np.array([c for _, c in ACTIONS.values()])
    return np.column_stack(uplift) * value[:, None] - cost


def spend(order: np.ndarray, gain: np.ndarray, cost: np.ndarray, budget: float) -> float:
    """True net value of treating customers in `order` while the budget lasts."""
    paid = np.cumsum(cost[order])
    return float(gain[order][paid <= budget].sum())


def test_targeting_matters_oracle_beats_top_risk_best_average_action(sim):
    truth = sim.truth
    gains = net_gains(truth)
    costs = np.array([c for _, c in ACTIONS.values()])
    budget = BUDGET_SHARE * len(truth) * 20.0
    best = gains.argmax(axis=1)
    best_gain, best_cost = gains.max(axis=1), costs[best]
    worth = np.flatnonzero(best_gain > 0)
    oracle_order = worth[np.argsort(-best_gain[worth] / best_cost[worth], kind="stable")]
    oracle = spend(oracle_order, best_gain, best_cost, budget)
    avg = int(gains.mean(axis=0).argmax())
    risk_order = np.argsort(-truth["p_churn_none"].to_numpy(), kind="stable")
    top_risk = spend(risk_order, gains[:, avg], np.full(len(truth), costs[avg]), budget)
    assert top_risk > 0
    assert oracle >= 1.5 * top_risk, (oracle, top_risk, list(ACTIONS)[avg])
