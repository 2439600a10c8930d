"""Baseline policies every next-best-action policy is judged beside, at the same budget.

Each returns one action name per customer ("none" for no action), spending at most the budget:
no action; everyone (in random order) gets the best average action; the riskiest customers get
the best average action; random customers get random eligible actions. And, on simulated data,
the true value of any policy from the simulator's known outcome probabilities.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def _within_budget(order: pd.Index, action: pd.Series, cost: dict[str, float], budget: float):
    """Walk customers in `order`, giving each its action while the budget lasts."""
    out = pd.Series("none", index=action.index, dtype=object)
    spent = 0.0
    for customer in order:
        name = action.at[customer]
        price = cost.get(name, 0.0)
        if name != "none" and spent + price <= budget:
            out.at[customer] = name
            spent += price
    return out


def best_average_action(values: pd.DataFrame, allowed: pd.DataFrame) -> str:
    """The action with the highest mean estimated value over the customers it is allowed for."""
    means = values.where(allowed).mean()
    return str(means.idxmax())


def everyone_best_average(
    values: pd.DataFrame, allowed: pd.DataFrame, cost: dict[str, float], budget: float, seed: int
) -> pd.Series:
    best = best_average_action(values, allowed)
    action = pd.Series(np.where(allowed[best], best, "none"), index=values.index, dtype=object)
    order = values.index[np.random.default_rng(seed).permutation(len(values))]
    return _within_budget(order, action, cost, budget)


def top_risk_best_average(
    values: pd.DataFrame,
    allowed: pd.DataFrame,
    risk: pd.Series,
    cost: dict[str, float],
    budget: float,
) -> pd.Series:
    best = best_average_action(values, allowed)
    action = pd.Series(np.where(allowed[best], best, "none"), index=values.index, dtype=object)
    order = risk.sort_values(ascending=False, kind="stable").index
    return _within_budget(order, action, cost, budget)


def random_policy(
    allowed: pd.DataFrame, cost: dict[str, float], budget: float, seed: int
) -> pd.Series:
    rng = np.random.default_rng(seed)
    names = np.asarray(allowed.columns, dtype=object)
    picks = []
    for row in allowed.to_numpy():
        options = names[row]
        picks.append(rng.choice(options) if len(options) else "none")
    action = pd.Series(picks, index=allowed.index, dtype=object)
    order = allowed.index[rng.permutation(len(allowed))]
    return _within_budget(order, action, cost, budget)


def true_values(truth: pd.DataFrame, actions: list[str], cost: dict[str, float]) -> pd.DataFrame:
    """Simulator truth: the revenue an action adds over the truth's value weeks (revenue_*,
    when the simulation followed it), else (P(churn | none) - P(churn | action)) x customer
    value; minus the action's cost."""
    if all(f"revenue_{a}" in truth for a in ["none", *actions]):
        added = {a: truth[f"revenue_{a}"] - truth["revenue_none"] for a in actions}
        return pd.DataFrame(added, index=truth.index) - pd.Series(cost)[actions]
    gain = {a: truth["p_churn_none"] - truth[f"p_churn_{a}"] for a in actions}
    uplift = pd.DataFrame(gain, index=truth.index)
    return uplift.mul(truth["customer_value"], axis=0) - pd.Series(cost)[actions]


def true_policy_value(policy: pd.Series, truth_values: pd.DataFrame) -> float:
    """Sum of the true value of each assigned action (no action is worth 0)."""
    treated = policy[policy != "none"]
    rows = truth_values.index.get_indexer(treated.index)
    cols = truth_values.columns.get_indexer(treated.to_numpy())
    if (rows < 0).any() or (cols < 0).any():
        raise ValueError("the policy names customers or actions the truth does not have")
    return float(truth_values.to_numpy()[rows, cols].sum())
