"""A control group and exploration in every run, so that each decision can be checked later.

After the allocation, a random share of each risk band is held out (no action: the control
group), and a random share of the customers with an eligible action gets one of those actions
drawn at random (exploration) instead of the allocation's choice. Both draws take exact counts
per band and are independent, so every customer's probability of each option is known exactly:

    P(none) = h + (1 - h)(1 - e)·1[chosen = none]
    P(a)    = (1 - h)·((1 - e)·1[chosen = a] + e / k)      for each of the k eligible actions

with h the band's held-out share and e the band's explored share of the eligible. Exploration
stays within the run's budget and capacities: the control group frees its actions' cost, and a
customer is explored only while the swap keeps both; e is the share actually explored. The taken
action's probability is its propensity: next month's uplift learning can weight by it, and
`cxml outcomes` can compare treated with control without the policy's own confounding.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cxml.config import NO_ACTION

POLICY, CONTROL, EXPLORE = "policy", "control", "explore"


@dataclass(frozen=True)
class Draws:
    """Per customer: the action taken, why (policy, control or explore), the probabilities of
    every option under the randomised policy (columns: none, then the catalog's actions) and
    the taken action's probability (its propensity)."""

    action: np.ndarray
    decision: np.ndarray
    probabilities: np.ndarray
    propensity: np.ndarray


@dataclass(frozen=True)
class Limits:
    """What the randomised actions must stay within: each action's cost, the run's budget
    (None: none) and each action's capacity (-1: none)."""

    costs: np.ndarray
    budget: float | None = None
    capacity: np.ndarray | None = None


def randomise(
    chosen: np.ndarray,
    allowed: np.ndarray,
    names: list[str],
    bands: np.ndarray,
    holdout: float,
    explore: float,
    rng: np.random.Generator,
    limits: Limits | None = None,
) -> Draws:
    """The allocation's `chosen` action per customer, randomised as the module says.
    `allowed`: customers × `names` eligibility; `bands`: each customer's risk band."""
    n = len(allowed)
    chosen = np.asarray(chosen, dtype=object)
    bands = np.asarray(bands, dtype=object)
    eligible = np.asarray(allowed.any(axis=1), dtype=bool)
    control = np.zeros(n, dtype=bool)
    explored = np.zeros(n, dtype=bool)
    h = np.zeros(n)
    e = np.zeros(n)
    tries = []
    for band in pd.unique(bands):
        rows = np.flatnonzero(bands == band)
        held = _exact(rows, holdout, rng)
        control[held] = True
        h[rows] = len(held) / len(rows)
        can = rows[eligible[rows]]
        if len(can):
            tried = _exact(can, explore, rng)
            tries.append(tried[~control[tried]])
    action = chosen.copy()
    action[control] = NO_ACTION
    order = np.concatenate(tries) if tries else np.empty(0, dtype=np.int64)
    order = order[rng.permutation(len(order))]
    within = _Within(action, names, limits)
    for i in order:
        drawn = names[rng.choice(np.flatnonzero(allowed[i]))]
        if within.swap(i, drawn):
            action[i], explored[i] = drawn, True
    for band in pd.unique(bands):  # e: the share of the band's eligible, not held out, explored
        rows = np.flatnonzero((bands == band) & eligible & ~control)
        e[bands == band] = explored[rows].mean() if len(rows) else 0.0
    probs = _probabilities(chosen, allowed, names, h, e)
    position = {name: j + 1 for j, name in enumerate(names)}
    taken = np.array([position.get(a, 0) for a in action], dtype=np.int64)
    decision = np.where(control, CONTROL, np.where(explored, EXPLORE, POLICY)).astype(object)
    return Draws(action, decision, probs, probs[np.arange(n), taken])


class _Within:
    """The spend and per-action counts of the taken actions, so that an exploration swap is
    made only while the budget and every capacity still hold."""

    def __init__(self, action: np.ndarray, names: list[str], limits: Limits | None) -> None:
        self.limits = limits
        self.where = {name: j for j, name in enumerate(names)}
        taken = np.array([self.where.get(a, -1) for a in action], dtype=np.int64)
        self.taken = taken
        self.counts = np.bincount(taken[taken >= 0], minlength=len(names))
        costs = np.zeros(len(names)) if limits is None else limits.costs
        self.costs = costs
        self.spend = float(costs[taken[taken >= 0]].sum())

    def swap(self, i: int, drawn: str) -> bool:
        old, new = int(self.taken[i]), self.where[drawn]
        if self.limits is None:
            return True
        spend = self.spend + self.costs[new] - (self.costs[old] if old >= 0 else 0.0)
        budget, capacity = self.limits.budget, self.limits.capacity
        if budget is not None and spend > budget + 1e-9 and new != old:
            return False
        full = capacity is not None and 0 <= capacity[new] < self.counts[new] + 1
        if full and new != old:
            return False
        if old >= 0:
            self.counts[old] -= 1
        self.counts[new] += 1
        self.taken[i], self.spend = new, spend
        return True


def _exact(rows: np.ndarray, share: float, rng: np.random.Generator) -> np.ndarray:
    """round(share × len(rows)) of `rows`, drawn without replacement."""
    count = round(share * len(rows))
    return rng.choice(rows, size=count, replace=False) if count else rows[:0]


def _probabilities(
    chosen: np.ndarray, allowed: np.ndarray, names: list[str], h: np.ndarray, e: np.ndarray
) -> np.ndarray:
    """customers × (none + actions): each option's probability under the randomised policy."""
    n, k = allowed.shape
    eligible = allowed.any(axis=1)
    e = np.where(eligible, e, 0.0)
    picked = np.zeros((n, k + 1))
    position = {name: j + 1 for j, name in enumerate(names)}
    picked[np.arange(n), [position.get(a, 0) for a in chosen]] = 1.0
    uniform = np.zeros((n, k + 1))
    counts = np.maximum(allowed.sum(axis=1), 1)
    uniform[:, 1:] = allowed / counts[:, None]
    probs = (1 - h)[:, None] * ((1 - e)[:, None] * picked + e[:, None] * uniform)
    probs[:, 0] += h
    return probs


def decision_ids(customers: pd.Index, cutoff: pd.Timestamp, run: str) -> np.ndarray:
    """A stable id per decision (customer, cutoff, run): the key outcomes are joined on. A
    digest, so the id carries no customer id or personal data of its own."""
    stamp = cutoff.isoformat()
    return np.array(
        [
            hashlib.sha256(f"{run}|{stamp}|{c}".encode()).hexdigest()[:20]
            for c in customers.astype(str)
        ],
        dtype=object,
    )
