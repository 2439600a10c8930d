"""Next-best-action policy: who may get which offer, what it is worth, and who gets what.

Pure functions on arrays (rows: customers, columns: the catalog's actions, in order):
eligibility from rules and the treatment log (cooldowns, contact caps), expected value =
uplift × customer value − cost, and allocation of at most one action per customer under a total
budget and per-action capacities — greedy by value density as the baseline, and an exact MILP
solved by HiGHS (scipy.optimize.milp) that never does worse.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from cxml.actions._assign import TOL, Problem, exact, greedy
from cxml.config import NO_ACTION, Action, ContactPolicy, Rule, catalog_names
from cxml.data.schema import utc_timestamp
from cxml.features.table import Table

NONE = NO_ACTION  # the "no action" label in an allocation
ALLOCATION_COLUMNS = ("action", "expected_gain", "cost", "runner_up", "runner_up_gain")
LOG_COLUMNS = ("customer_id", "action_time", "action")  # `channel` is optional


def holds(rule: Rule, customers: Table) -> np.ndarray:
    """Where `rule` holds, a boolean mask over the rows of `customers`; a missing value fails."""
    if rule.column not in customers:
        raise ValueError(
            f"Rule on {rule.column!r}: the customers have no such column "
            f"(they have {customers.names()}); fix the action catalog or the data."
        )
    values = customers.columns[rule.column]
    ok = ~np.asarray(pd.isna(values), dtype=bool)
    if rule.isin is not None:
        ok &= np.isin(np.asarray(values, dtype=object), list(rule.isin))
    if rule.min is not None or rule.max is not None:
        numbers = pd.to_numeric(np.asarray(values, dtype=object), errors="coerce")
        num = np.asarray(numbers, dtype=float)
        with np.errstate(invalid="ignore"):  # NaN compares False: missing fails
            if rule.min is not None:
                ok &= num >= rule.min
            if rule.max is not None:
                ok &= num <= rule.max
    return ok


@dataclass(frozen=True)
class PastLog:
    """The log rows in the look-back window as arrays, one entry per logged contact; `who` is
    the position of each row's customer id in `ids` (-1: no id), so counting is a bincount."""

    action: np.ndarray  # object: the logged action names
    channel: np.ndarray  # object: the row's channel, else the catalog's for its action
    time: np.ndarray  # datetime64, UTC: numpy compares it without a DatetimeIndex's overhead
    who: np.ndarray  # int64
    ids: pd.Index  # the distinct customer ids logged

    def since(self, at: np.datetime64, days: int) -> np.ndarray:
        """Which rows are at or after `days` before `at` (UTC; numpy: a pandas Timedelta per
        check cost more than one customer's checks)."""
        return self.time >= at - np.timedelta64(days, "D")

    def per_customer(self, rows: np.ndarray, where: np.ndarray) -> np.ndarray:
        """How many of the selected rows (a boolean mask) fall on each customer, given each
        customer's position in `ids` (-1: none logged; see `where`)."""
        if len(self.ids) == 0:
            return np.zeros(len(where), dtype=np.int64)
        counts = np.bincount(self.who[rows & (self.who >= 0)], minlength=len(self.ids))
        return np.where(where >= 0, counts[np.maximum(where, 0)], 0)

    def where(self, index: pd.Index) -> np.ndarray:
        """Each customer's position in `ids`, -1 for one with no logged row."""
        if len(self.ids) == 0:
            return np.full(len(index), -1, dtype=np.int64)
        return self.ids.get_indexer(index)


_NO_IDS = pd.Index([], dtype=object)  # an empty log's ids, made once


def past_log(
    log: pd.DataFrame | None,
    catalog: Sequence[Action],
    as_of: pd.Timestamp,
    days: int,
    control: str = NO_ACTION,
) -> PastLog:
    """Log rows in [as_of − days, as_of): only the past can block an offer. Rows of `control`
    (the log's name for no action) go: a customer held out got no contact, whatever channel
    the row names (the Hillstrom import logs its "no e-mail" arm on the e-mail channel)."""
    if log is None or len(log) == 0 or days <= 0:
        none = np.empty(0, dtype=object)
        empty = np.empty(0, dtype="datetime64[ns]")
        return PastLog(none, none, empty, np.empty(0, dtype=np.int64), _NO_IDS)
    missing = [c for c in LOG_COLUMNS if c not in log.columns]
    if missing:
        raise ValueError(f"The actions log lacks columns {missing}; it needs {list(LOG_COLUMNS)}.")
    time = pd.DatetimeIndex(pd.to_datetime(log["action_time"], utc=True))
    keep = np.asarray((time < as_of) & (time >= as_of - pd.Timedelta(days=days)), dtype=bool)
    logged = log["action"].to_numpy(dtype=object)
    keep &= logged != control
    action = logged[keep]
    if "channel" in log:
        channel = log["channel"].to_numpy(dtype=object)[keep]
    else:
        channel = np.full(int(keep.sum()), None, dtype=object)
    by_name = {a.name: a.channel for a in catalog}  # a row without a channel: the catalog's
    unknown = pd.isna(channel)
    channel[unknown] = [by_name.get(a, np.nan) for a in action[unknown]]
    who, ids = pd.factorize(log["customer_id"].to_numpy(dtype=object)[keep])  # NaN id: -1
    utc = time[keep].tz_convert(None).to_numpy()  # naive UTC datetime64, in its own unit
    return PastLog(action, channel, utc, who.astype(np.int64), pd.Index(ids))


def eligible(
    customers: Table,
    catalog: Sequence[Action],
    log: pd.DataFrame | None,
    contact: ContactPolicy | None,
    as_of: pd.Timestamp,
    control: str = NO_ACTION,
) -> np.ndarray:
    """Which customer may get which action at `as_of`: a bool matrix, the customers' rows ×
    the catalog's actions in order.

    An action is allowed when all its rules hold, the same action was not logged within its
    cooldown_days before `as_of`, and the customer had fewer than `max_contacts` logged contacts
    on the action's channel within `period_days` before `as_of`. Only log rows strictly before
    `as_of` count; a logged action missing from the catalog still counts as a contact, but the
    log's `control` (no action) is none. Every
    check runs whatever the log holds (max_contacts 0 blocks even with an empty log); the log
    is read into arrays once.
    """
    catalog_names(catalog)
    at = utc_timestamp(as_of)
    window = max([a.cooldown_days for a in catalog] + [contact.period_days if contact else 0])
    past = past_log(log, catalog, at, window, control)
    at64 = at.tz_convert(None).to_datetime64()  # naive UTC, as the log's times
    where = past.where(customers.index)
    if contact is not None:
        recent = past.since(at64, contact.period_days)
    allowed = np.ones((len(customers), len(catalog)), dtype=bool)
    for j, action in enumerate(catalog):
        ok = allowed[:, j]
        for rule in action.rules:
            ok &= holds(rule, customers)
        if action.cooldown_days > 0:
            since = past.since(at64, action.cooldown_days)
            ok &= past.per_customer((past.action == action.name) & since, where) == 0
        if contact is not None:
            on_channel = recent & (past.channel == action.channel)
            ok &= past.per_customer(on_channel, where) < contact.max_contacts
    return allowed


def net_values(
    uplift: np.ndarray, money: np.ndarray, catalog: Sequence[Action], ids: pd.Index
) -> np.ndarray:
    """Net expected value of each action for each customer, in money: uplift[c, a] ×
    money[c] − cost[a], where uplift (rows × the catalog's actions) is the increase in the
    probability of the good outcome (e.g. churn avoided) that action a causes for customer c,
    and money each row's customer value. A missing uplift gives a missing value, which is
    never allocated; `ids` name the rows in errors."""
    if np.isnan(money).any():
        lost = list(ids[np.isnan(money)][:3])
        raise ValueError(
            f"customer_value is missing for {int(np.isnan(money).sum())} customers, e.g. {lost}."
        )
    costs = np.array([a.cost for a in catalog], dtype=float)
    return uplift * money[:, None] - costs


def _problem(
    value: np.ndarray,
    allowed: np.ndarray,
    catalog: Sequence[Action],
    budget: float | None,
    ids: pd.Index,
) -> Problem:
    """The problem on arrays: `value` and `allowed` are rows × the catalog's actions."""
    catalog_names(catalog)
    if not ids.is_unique:
        raise ValueError("values has repeated customer ids; give one row per customer.")
    if value.shape != allowed.shape or value.shape[1:] != (len(catalog),):
        raise ValueError(
            f"values {value.shape} and eligibility {allowed.shape} must both be customers × "
            f"the catalog's {len(catalog)} actions"
        )
    if budget is not None and (math.isnan(budget) or budget < 0):
        raise ValueError(f"budget must be >= 0 or None (unlimited), got {budget}.")
    value = np.where(np.isnan(value), -np.inf, value)
    n = len(value)
    cost = np.array([a.cost for a in catalog], dtype=float)
    cap = np.array([n + 1 if a.capacity is None else a.capacity for a in catalog], dtype=np.int64)
    limit = math.inf if budget is None else float(budget)
    ok = allowed & (value > 0) & np.isfinite(value) & (cost <= limit + TOL) & (cap > 0)
    rank = np.empty(n, dtype=np.int64)
    try:
        rank[np.argsort(ids.to_numpy(), kind="stable")] = np.arange(n)
    except TypeError:  # ids of mixed types: fall back to row order
        rank = np.arange(n)
    return Problem(value, ok, cost, cap, limit, rank)


@dataclass
class Allocation(Table):
    """Per customer: the action, its expected gain and cost, the runner-up and its gain
    (ALLOCATION_COLUMNS), and how the answer was found."""

    status: str = ""


def _picked(
    p: Problem, names: list[str], chosen: np.ndarray, ids: pd.Index, status: str
) -> Allocation:
    """The allocation's columns over the problem's rows."""
    rows, has = np.arange(len(chosen)), chosen >= 0
    labels = np.array([*names, NONE], dtype=object)  # index -1 reads NONE
    at = np.where(has, chosen, 0)
    rest = np.where(p.ok, p.value, -np.inf)  # an action closed (capacity 0) is no runner-up
    rest[rows[has], chosen[has]] = -np.inf
    second = np.argmax(rest, axis=1)
    second_gain = rest[rows, second]
    found = np.isfinite(second_gain)
    columns = {
        "action": labels[chosen],
        "expected_gain": np.where(has, p.value[rows, at], 0.0),
        "cost": np.where(has, p.cost[at], 0.0),
        "runner_up": labels[np.where(found, second, -1)],
        "runner_up_gain": np.where(found, second_gain, 0.0),
    }
    return Allocation(ids, columns, status)


def best_each(
    values: np.ndarray, allowed: np.ndarray, catalog: Sequence[Action], ids: pd.Index
) -> Allocation:
    """Each customer's own best: the eligible action of highest positive value, else "none".
    No budget, and a capacity only closes an action when 0: what one customer's request needs,
    whoever else is scored in the same call. Ties go to the earlier catalog action. Same
    columns as `allocate`; `values` and `allowed` are rows (`ids`) × the catalog's actions."""
    p = _problem(values, allowed, catalog, None, ids)
    worth = np.where(p.ok, p.value, -np.inf)
    best = np.argmax(worth, axis=1)
    found = np.isfinite(worth[np.arange(len(worth)), best])
    status = "each customer's best eligible action"
    return _picked(p, catalog_names(catalog), np.where(found, best, -1), ids, status)


def allocate(
    values: np.ndarray,
    allowed: np.ndarray,
    catalog: Sequence[Action],
    budget: float | None,
    ids: pd.Index,
    method: Literal["greedy", "exact"] = "exact",
    *,
    time_limit: float = 60.0,
    gap: float = 1e-5,
) -> Allocation:
    """The action per customer that maximises total expected value, with "none" always allowed.

    Constraints: at most one action per customer, total cost <= budget (None: unlimited), at most
    `capacity` customers per action, never an ineligible action nor one with value <= 0 (or
    missing). "greedy" takes pairs by value density. "exact" maximises total value as a MILP:
    Lagrangian reduced-cost fixing shrinks it, HiGHS solves the rest to a relative `gap`; within
    `time_limit` s, else the best feasible solution found. It is never below greedy. Greedy ties
    go to the smaller customer id, then the earlier catalog action. `values` and `allowed`
    are rows (the customers `ids`) × the catalog's actions.

    Returns the allocation over `ids`: action, expected_gain, cost, runner_up (the best other
    eligible action with positive value that this run could give: open and affordable on its
    own; else "none") and runner_up_gain, and its `status`: how the answer was found.
    """
    if gap < 0 or time_limit < 0:
        raise ValueError(f"gap and time_limit must be >= 0, got {gap} and {time_limit}.")
    p = _problem(values, allowed, catalog, budget, ids)
    if method == "greedy":
        chosen, status = greedy(p), "greedy: by value density"
    elif method == "exact":
        chosen, status = exact(p, time_limit, gap)
    else:
        raise ValueError(f"method must be 'greedy' or 'exact', got {method!r}.")
    return _picked(p, catalog_names(catalog), chosen, ids, status)
