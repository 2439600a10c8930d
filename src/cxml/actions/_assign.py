"""The allocation solvers behind `policy.allocate`, on arrays: greedy and exact.

Exact = a MILP solved by HiGHS, made small first. The constraints customers share (budget,
capacities) are few, so their Lagrange multipliers are found by a cutting-plane method in a
handful of dimensions; the Lagrangian bound then proves most (customer, option) pairs cannot be in
any solution better than a heuristic incumbent (reduced-cost fixing), and HiGHS solves only the
small core that is left: a plain MILP over a large base is far too slow, while the core is
small. Proving a tighter gap costs much more than the default 1e-5 (closing the last unit on a
near-tied knapsack core is what costs); `make bench` measures both.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

TOL = 1e-9  # slack on budget checks, against float summation error only


@dataclass
class Problem:
    """One action per customer; `ok` marks the (customer, action) pairs worth assigning."""

    value: np.ndarray  # customers × actions, NaN already → -inf
    ok: np.ndarray  # eligible, value > 0, affordable on its own, capacity > 0
    cost: np.ndarray  # per action, >= 0
    cap: np.ndarray  # per action, int; > number of customers when unlimited
    budget: float  # inf when unlimited
    rank: np.ndarray  # each customer's position in id order, for tie-breaks

    def pairs(self) -> tuple[np.ndarray, np.ndarray]:
        rows, cols = np.nonzero(self.ok)
        return rows.astype(np.int64), cols.astype(np.int64)

    def total(self, chosen: np.ndarray) -> float:
        has = chosen >= 0
        return float(self.value[np.nonzero(has)[0], chosen[has]].sum())

    def counts(self, chosen: np.ndarray) -> np.ndarray:
        return np.bincount(chosen[chosen >= 0], minlength=len(self.cost))

    def feasible(self, chosen: np.ndarray) -> bool:
        spent = self.cost[chosen[chosen >= 0]].sum()
        return bool(spent <= self.budget + TOL and np.all(self.counts(chosen) <= self.cap))


def greedy(p: Problem, start: np.ndarray | None = None) -> np.ndarray:
    """Pairs by value density (value / cost, free = infinite), skipping what no longer fits.

    `start` is a feasible partial assignment to fill up; ties go to the smaller customer id,
    then the earlier action.
    """
    n = len(p.value)
    chosen = np.full(n, -1, dtype=np.int64) if start is None else start.copy()
    rows, cols = p.pairs()
    open_ = chosen[rows] < 0
    rows, cols = rows[open_], cols[open_]
    gain, cost = p.value[rows, cols], p.cost[cols]
    density = np.divide(gain, cost, out=np.full(len(gain), np.inf), where=cost > 0)
    order = np.lexsort((cols, p.rank[rows], -density))
    left = (p.cap - p.counts(chosen)).tolist()
    spent = float(p.cost[chosen[chosen >= 0]].sum())
    for i, j, c in zip(
        rows[order].tolist(), cols[order].tolist(), cost[order].tolist(), strict=True
    ):
        if chosen[i] >= 0 or left[j] <= 0 or spent + c > p.budget + TOL:
            continue
        chosen[i], left[j], spent = j, left[j] - 1, spent + c
    return chosen


def _repair(p: Problem, chosen: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Drop assignments, lowest `key` first, that sit on a broken budget or capacity."""
    chosen = chosen.copy()
    has = np.nonzero(chosen >= 0)[0]
    over = (p.counts(chosen) - p.cap).tolist()
    spent = float(p.cost[chosen[has]].sum())
    for i in has[np.argsort(key[has], kind="stable")].tolist():
        j = int(chosen[i])
        broke_budget = spent > p.budget + TOL
        if not broke_budget and max(over) <= 0:
            break
        if over[j] > 0 or (broke_budget and p.cost[j] > 0):
            chosen[i], over[j], spent = -1, over[j] - 1, spent - float(p.cost[j])
    return chosen


def _coupling(p: Problem) -> tuple[np.ndarray, np.ndarray]:
    """The shared constraints as rows over actions (budget, capacities that can bind)."""
    m = len(p.cost)
    rows, limits = [], []
    if math.isfinite(p.budget) and p.cost.any():
        rows.append(p.cost)
        limits.append(p.budget)
    for j in np.nonzero(p.cap < p.ok.sum(axis=0))[0]:
        rows.append(np.eye(m)[j])
        limits.append(float(p.cap[j]))
    return np.array(rows, dtype=float).reshape(-1, m), np.array(limits, dtype=float)


def _lagrangian(
    base: np.ndarray, coef: np.ndarray, rhs: np.ndarray, u: np.ndarray
) -> tuple[float, np.ndarray]:
    """The Lagrangian bound at multipliers u >= 0 (>= the optimum) and its subgradient."""
    reduced = base - u @ coef
    best = np.argmax(reduced, axis=1)
    top = reduced[np.arange(len(base)), best]
    take = top > 0
    use = np.bincount(best[take], minlength=base.shape[1])
    return float(top[take].sum() + u @ rhs), rhs - coef @ use


def _dual(
    base: np.ndarray, coef: np.ndarray, rhs: np.ndarray, deadline: float
) -> tuple[float, np.ndarray]:
    """Multipliers that (nearly) minimise the bound: cutting planes in a moving box."""
    k = len(rhs)
    u = np.zeros(k)
    bound, g = _lagrangian(base, coef, rhs, u)
    cut_a, cut_b = [np.r_[-1.0, g]], [float(g @ u) - bound]
    finite = base[np.isfinite(base)]
    top = float(finite.max()) if finite.size else 1.0
    step = np.array([top / row[row > 0].min() for row in coef]) / 10
    for _ in range(200):
        if time.monotonic() > deadline:
            break
        lower, upper = np.maximum(u - step, 0).tolist(), (u + step).tolist()
        box = [(None, None), *zip(lower, upper, strict=True)]
        res = linprog(np.r_[1.0, np.zeros(k)], A_ub=np.array(cut_a), b_ub=cut_b, bounds=box)
        if res.status != 0 or bound - res.fun <= 1e-10 * max(1.0, abs(bound)):
            break  # no decrease left in the box: convexity makes it the minimum
        trial = res.x[1:]
        value, g = _lagrangian(base, coef, rhs, trial)
        cut_a.append(np.r_[-1.0, g])
        cut_b.append(float(g @ trial) - value)
        gain, predicted = bound - value, bound - res.fun
        if gain >= 0.1 * predicted:
            u, bound = trial, value
            step = step * (2.0 if gain >= 0.5 * predicted else 1.0)
        else:
            step = step / 2
    return bound, u


def _core_constraints(
    rows: np.ndarray, cols: np.ndarray, cost: np.ndarray, budget: float, cap: np.ndarray
) -> LinearConstraint | None:
    """One action per customer, the budget, and the capacities that can bind, over the pairs."""
    k, blocks, upper = len(rows), [], []
    _, which, per_customer = np.unique(rows, return_inverse=True, return_counts=True)
    shared = np.nonzero(per_customer[which] > 1)[0]  # a lone pair is held by its bound x <= 1
    if len(shared):
        _, at = np.unique(rows[shared], return_inverse=True)
        shape = (int(at.max()) + 1, k)
        blocks.append(sparse.csr_matrix((np.ones(len(shared)), (at, shared)), shape=shape))
        upper.append(np.ones(shape[0]))
    if math.isfinite(budget):
        blocks.append(sparse.csr_matrix(cost[cols][None, :]))
        upper.append(np.array([max(budget, 0.0)]))
    for j in np.nonzero(cap < np.bincount(cols, minlength=len(cap)))[0]:
        mine = np.nonzero(cols == j)[0]
        blocks.append(sparse.csr_matrix((np.ones(len(mine)), (np.zeros_like(mine), mine)), (1, k)))
        upper.append(np.array([float(max(cap[j], 0))]))
    if not blocks:
        return None
    return LinearConstraint(sparse.vstack(blocks, format="csr"), -np.inf, np.concatenate(upper))


def _fix(p: Problem, reduced: np.ndarray, slack: float) -> tuple[np.ndarray, np.ndarray]:
    """Reduced-cost fixing: the options that can still beat the incumbent, and forced choices.

    With multipliers u >= 0 any feasible solution is worth at most bound − Σ_i (top_i − r_i(x_i)),
    so an option whose shortfall top_i − r_i exceeds bound − incumbent is never in a better one.
    """
    top = np.maximum(reduced.max(axis=1), 0.0)
    keep = np.isfinite(reduced) & (top[:, None] - reduced <= slack)
    none_ok = top <= slack
    free = keep.sum(axis=1) + none_ok > 1
    fixed = np.where(free | none_ok, -1, np.argmax(keep, axis=1)).astype(np.int64)
    return keep & free[:, None], fixed


def _solve_core(
    p: Problem, keep: np.ndarray, fixed: np.ndarray, seconds: float, rel_gap: float
) -> tuple[np.ndarray | None, str, int]:
    """HiGHS on the pairs that survived fixing, with what the fixed customers left over."""
    rows, cols = np.nonzero(keep)
    if not len(rows):
        return fixed, "optimal", 0
    budget = p.budget - float(p.cost[fixed[fixed >= 0]].sum())
    res = milp(
        -p.value[rows, cols],
        integrality=np.ones(len(rows)),
        bounds=Bounds(0, 1),
        constraints=_core_constraints(rows, cols, p.cost, budget, p.cap - p.counts(fixed)),
        options={"time_limit": max(seconds, 0.0), "mip_rel_gap": rel_gap, "disp": False},
    )
    if res.x is None:
        return None, str(res.message).strip(), len(rows)
    chosen = fixed.copy()
    take = res.x > 0.5
    chosen[rows[take]] = cols[take]
    safe = _repair(p, chosen, p.value.max(axis=1))  # only bites on rounding noise
    return safe, ("optimal" if res.status == 0 else str(res.message).strip()), len(rows)


def _incumbent(p: Problem, reduced: np.ndarray) -> np.ndarray:
    """The Lagrangian choice made feasible and topped up greedily, or plain greedy if better."""
    lagrange = np.where(reduced.max(axis=1) > 0, np.argmax(reduced, axis=1), -1)
    repaired = greedy(p, _repair(p, lagrange, reduced.max(axis=1)))
    plain = greedy(p)
    return plain if p.total(plain) > p.total(repaired) else repaired


def exact(p: Problem, time_limit: float, gap: float = 1e-5) -> tuple[np.ndarray, str]:
    """The optimum within a relative `gap` (or the best found in `time_limit` s), never < greedy."""
    started = time.monotonic()
    best = np.where(p.ok.any(axis=1), np.argmax(np.where(p.ok, p.value, -np.inf), axis=1), -1)
    if p.feasible(best):
        return best, "exact: optimal (every customer's best action fits budget and capacities)"
    base = np.where(p.ok, p.value, -np.inf)
    coef, rhs = _coupling(p)
    bound, u = _dual(base, coef, rhs, started + time_limit / 2)
    reduced = base - u @ coef
    incumbent = _incumbent(p, reduced)
    allowed = gap * max(abs(bound), 1e-12)  # the shortfall from the bound we accept
    if bound - p.total(incumbent) <= allowed:
        return incumbent, f"exact: optimal within {gap:g} (the Lagrangian bound is met)"
    keep, fixed = _fix(p, reduced, bound - p.total(incumbent) + 1e-9 * max(1.0, abs(bound)))
    in_core = keep.any(axis=1)
    core_value = max(abs(p.total(np.where(in_core, incumbent, -1))), 1e-12)
    remaining = time_limit - (time.monotonic() - started)
    core, outcome, size = _solve_core(p, keep, fixed, remaining, min(1e-4, allowed / core_value))
    if core is not None and p.total(core) >= p.total(incumbent):
        incumbent = core
    if core is not None and outcome == "optimal":
        return incumbent, (
            f"exact: optimal within {gap:g} (HiGHS on a {size}-pair core after Lagrangian fixing)"
        )
    shortfall = (bound - p.total(incumbent)) / max(abs(bound), 1e-12)
    return incumbent, (
        f"exact: HiGHS stopped ({outcome}) within the {time_limit:g} s time limit; best feasible "
        f"solution returned, at most {shortfall:.2g} (relative) below the optimum"
    )
