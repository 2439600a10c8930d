"""Never worse than a simple policy (actions/fallback.py): the decision from doubly robust gains
on a held-out campaign, and the allocation choosing as the simple policy does."""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import TypeAdapter

from cxml.actions.fallback import Fallback, compare, decide
from cxml.actions.recommend import Options, choose, describe, fall_back
from cxml.config import ActionsConfig

RNG = np.random.default_rng(0)
N = 4000


def gains(learned_edge: float) -> dict[str, np.ndarray]:
    """Per-customer gains over no action; the learned policy `learned_edge` above top risk."""
    top = RNG.normal(2.0, 5.0, N)
    return {
        "cxml": top + learned_edge + RNG.normal(0, 1.0, N),
        "no_action": np.zeros(N),
        "top_risk_best_average": top,
        "everyone_best_average": top - 1.0 + RNG.normal(0, 1.0, N),
    }


def test_a_learned_policy_clearly_better_is_kept():
    table = compare(gains(learned_edge=1.0))
    assert decide(table, "call") is None
    row = table.set_index("policy").loc["cxml - top_risk_best_average"]
    assert row["dr_low"] > 0


def test_a_tie_falls_back_to_the_best_simple_policy_and_says_why():
    fallback = decide(compare(gains(learned_edge=0.0)), "call")
    assert fallback is not None and fallback.policy == "top_risk_best_average"
    assert fallback.action == "call" and "not better than top risk best average" in fallback.why
    assert Fallback.from_info(fallback.as_info()) == fallback


def test_a_policy_worse_than_doing_nothing_falls_back_to_no_action():
    losing = {name: terms - 10.0 for name, terms in gains(0.0).items()}
    losing["no_action"] = np.zeros(N)
    fallback = decide(compare(losing), "call")
    assert fallback is not None and fallback.policy == "no_action"


def test_the_simple_policy_to_fall_back_to_is_the_one_the_estimates_value_most():
    """One campaign is noisy: it may put acting on the riskiest a little below doing nothing,
    with an interval that holds both. The calibrated estimates (every earlier campaign) then
    choose among the simple policies; a policy the campaign shows clearly losing is left out."""
    top = RNG.normal(-0.05, 5.0, N)
    noisy = {
        "cxml": top + RNG.normal(0, 1.0, N),
        "no_action": np.zeros(N),
        "top_risk_best_average": top,
        "everyone_best_average": top - 10.0,  # clearly worse than nothing here
    }
    table = compare(noisy)
    by = table.set_index("policy")
    row = by.loc["top_risk_best_average"]
    assert row["dr_value"] < 0 < row["dr_high"]  # below nothing by its point, not beyond
    assert decide(table, "call").policy == "no_action"  # the campaign alone: by its points
    estimated = {"no_action": 0.0, "top_risk_best_average": 900.0, "everyone_best_average": 950.0}
    fallback = decide(table, "call", estimated)
    assert fallback is not None and fallback.policy == "top_risk_best_average"
    assert "by the calibrated estimates" in fallback.why
    losing = compare({**noisy, "top_risk_best_average": top - 10.0})
    assert decide(losing, "call", estimated).policy == "no_action"


CONFIG = TypeAdapter(ActionsConfig).validate_python(
    {
        "value": {"feature": "v", "multiplier": 1},
        "budget": 30,
        "catalog": [{"name": "call", "channel": "phone", "cost": 10},
                    {"name": "mail", "channel": "email", "cost": 1}],
    }
)  # fmt: skip


def found(n: int = 8) -> Options:
    ids = pd.Index([f"c{i}" for i in range(n)], name="customer_id")
    value = np.column_stack([np.arange(n, dtype=float), np.full(n, 50.0)])  # mail looks best
    allowed = np.ones((n, 2), dtype=bool)
    allowed[0] = False  # c0 may get nothing
    return Options(ids, ["call", "mail"], value / 100, value, allowed, np.ones(n))


def test_top_risk_fallback_gives_the_best_average_action_to_the_riskiest_within_budget():
    risk = np.array([0.99, 0.1, 0.9, 0.8, 0.2, 0.7, 0.3, 0.05])
    fallback = Fallback("top_risk_best_average", "call", "not better")
    options = fall_back(found(), fallback, risk)
    chosen = choose(options, CONFIG)
    picked = dict(zip(options.index, chosen["action"], strict=True))
    # budget 30 = three calls: the riskiest allowed ones (c0 is not allowed anything)
    assert [c for c, a in picked.items() if a == "call"] == ["c2", "c3", "c5"]
    assert set(picked.values()) == {"call", "none"}
    gains = dict(zip(options.index, chosen["expected_gain"], strict=True))
    assert gains["c2"] == 2.0  # the model's value of a call for c2, not the ranking
    said = describe(options, chosen, None)["action_reason"]
    assert all("simple policy in use (top risk best average)" in s for s in said)


def test_no_action_fallback_and_the_endpoint():
    options = fall_back(found(), Fallback("no_action", "call", "worse"), np.ones(8))
    assert (choose(options, CONFIG)["action"] == "none").all()
    each = fall_back(found(), Fallback("everyone_best_average", "call", "tie"), np.ones(8))
    per_customer = choose(each, CONFIG, per_customer=True)["action"]
    assert list(per_customer) == ["none", *["call"] * 7]  # one customer's answer: the action
