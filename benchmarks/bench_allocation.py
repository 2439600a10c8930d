"""Allocation on 100k customers × 5 actions: greedy vs exact, next to a plain numpy argmax.

Realistic values: uplift is small for most customers, so most (customer, action) values are
negative (uplift × customer value − cost); costs run from 1 (e-mail) to 60 (a visit); the budget
binds, and so does the call centre's capacity. The baseline ignores budget and capacity: each
customer's best positive eligible action by `argmax` — the floor any allocation pays for.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import Literal

import numpy as np
import pandas as pd

from cxml.actions.policy import Allocation, allocate, net_values
from cxml.config import Action

ACTIONS = (  # name, channel, cost, capacity, typical uplift scale
    ("email", "email", 1.0, None, 0.010),
    ("sms", "sms", 2.0, None, 0.012),
    ("voucher", "app", 15.0, None, 0.06),
    ("call", "call_centre", 40.0, 2_000, 0.20),
    ("visit", "store", 60.0, None, 0.25),
)


def problem(
    n: int = 100_000, seed: int = 7
) -> tuple[np.ndarray, np.ndarray, list[Action], pd.Index]:
    """Values and eligibility (customers × the catalog's actions), catalog and customer ids, from
    a fixed seed."""
    rng = np.random.default_rng(seed)
    catalog = [Action(name, ch, cost, capacity=cap) for name, ch, cost, cap, _ in ACTIONS]
    ids = pd.Index([f"c{i:07d}" for i in range(n)], name="customer_id")
    scale = np.array([a[4] for a in ACTIONS])
    uplift = rng.gamma(0.6, 1.0, size=(n, len(ACTIONS))) * scale - 0.3 * scale
    worth = rng.lognormal(5.0, 0.9, size=n)  # margin over the horizon
    values = net_values(uplift, worth, catalog, ids)
    allowed = rng.random((n, len(ACTIONS))) < 0.8
    return values, allowed, catalog, ids


def baseline(values: np.ndarray, allowed: np.ndarray) -> float:
    """Best positive eligible action per customer, no budget or capacity: total value."""
    v = np.where(allowed, values, -np.inf)
    best = v.max(axis=1)
    return float(best[best > 0].sum())


def _timed(fn: Callable[[], object], repeat: int = 3) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def run(customers: int = 100_000) -> None:
    values, allowed, catalog, ids = problem(customers)
    free = baseline(values, allowed)
    budget = 0.25 * _unconstrained_cost(values, allowed, catalog)
    base_s, _ = _timed(lambda: baseline(values, allowed), repeat=5)
    print(f"allocation ({len(values):,} customers × {len(catalog)} actions)")
    print(f"  pairs with value > 0   {(values > 0).mean():>11.1%}  (budget {budget:,.0f})")
    print(f"  argmax baseline        {base_s:>11.3f} s   value {free:>14,.0f} (no budget/capacity)")
    totals = {}
    methods: tuple[Literal["greedy", "exact"], ...] = ("greedy", "exact")
    for method in methods:
        secs, out = _timed(partial(allocate, values, allowed, catalog, budget, ids, method))
        assert isinstance(out, Allocation)
        totals[method] = out["expected_gain"].sum()
        calls = int((out["action"] == "call").sum())
        print(
            f"  {method:<8} allocate      {secs:>11.3f} s   value {totals[method]:>14,.0f}   "
            f"{secs / base_s:>7.0f}x baseline   cost {out['cost'].sum():,.0f}, calls {calls:,}"
        )
        if method == "exact":
            print(f"  status                 {out.status}")
    print(f"  exact / greedy value   {totals['exact'] / totals['greedy']:>11.4f}")


def _unconstrained_cost(values: np.ndarray, allowed: np.ndarray, catalog: list[Action]) -> float:
    """What giving everyone their best action would cost; the budget is a share of it."""
    v = np.where(allowed, values, -np.inf)
    best = v.argmax(axis=1)
    cost = np.array([a.cost for a in catalog])[best]
    return float(cost[v.max(axis=1) > 0].sum())
