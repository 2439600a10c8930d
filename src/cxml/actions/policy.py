"""Next-best-action policy: who may get which offer, what it is worth, and who gets what.

Pure functions on frames (DESIGN §3): eligibility from rules and the treatment log (cooldowns,
contact caps), expected value = uplift × customer value − cost, and allocation of at most one
action per customer under a total budget and per-action capacities — greedy by value density as
the baseline, and an exact MILP solved by HiGHS (scipy.optimize.milp) that never does worse.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from cxml.actions._assign import TOL, Problem, exact, greedy

NONE = "none"  # the "no action" label in an allocation
ALLOCATION_COLUMNS = ("action", "expected_gain", "cost", "runner_up", "runner_up_gain")
LOG_COLUMNS = ("customer_id", "action_time", "action", "channel")


@dataclass(frozen=True)
class Rule:
    """An eligibility condition on one customer column; every condition given must hold.

    A missing value fails the rule: an offer gated on a segment or a minimum value is not sent to
    a customer whose segment or value is unknown.
    """

    column: str
    isin: tuple[str, ...] | None = None
    min: float | None = None
    max: float | None = None

    def __post_init__(self) -> None:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(
                f"Rule on {self.column!r}: min {self.min} > max {self.max}, so no customer can "
                "pass; swap the bounds."
            )

    def holds(self, customers: pd.DataFrame) -> np.ndarray:
        """A boolean mask over the rows of `customers`."""
        if self.column not in customers.columns:
            raise ValueError(
                f"Rule on {self.column!r}: the customers frame has no such column "
                f"(it has {list(customers.columns)}); fix the action catalog or the data."
            )
        col = customers[self.column]
        ok = col.notna().to_numpy(dtype=bool)
        if self.isin is not None:
            ok &= col.isin(list(self.isin)).to_numpy(dtype=bool)
        if self.min is not None or self.max is not None:
            raw = col.astype(object) if isinstance(col.dtype, pd.CategoricalDtype) else col
            num = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
            with np.errstate(invalid="ignore"):  # NaN compares False: missing fails
                if self.min is not None:
                    ok &= num >= self.min
                if self.max is not None:
                    ok &= num <= self.max
        return ok


@dataclass(frozen=True)
class Action:
    """One offer in the catalog: what it costs, who may get it, how often."""

    name: str
    channel: str
    cost: float
    rules: tuple[Rule, ...] = ()
    capacity: int | None = None  # at most this many customers per allocation (None: no limit)
    cooldown_days: int = 0  # no repeat of this offer within D days
    aims_at: str = "churn"  # the outcome whose probability the uplift raises

    def __post_init__(self) -> None:
        problem = None
        if not self.name or self.name == NONE:
            problem = f"the name {NONE!r} (or an empty name) is reserved for 'no action'"
        elif not math.isfinite(self.cost) or self.cost < 0:
            problem = f"cost must be a finite number >= 0, got {self.cost}"
        elif self.capacity is not None and self.capacity < 0:
            problem = f"capacity must be >= 0 or None (no limit), got {self.capacity}"
        elif self.cooldown_days < 0:
            problem = f"cooldown_days must be >= 0, got {self.cooldown_days}"
        if problem:
            raise ValueError(f"Action {self.name!r}: {problem}.")


@dataclass(frozen=True)
class ContactPolicy:
    """At most `max_contacts` contacts per channel per customer in any `period_days` window."""

    max_contacts: int
    period_days: int

    def __post_init__(self) -> None:
        if self.max_contacts < 0 or self.period_days < 1:
            raise ValueError(
                f"ContactPolicy needs max_contacts >= 0 and period_days >= 1, got "
                f"{self.max_contacts} and {self.period_days}."
            )


def _names(catalog: list[Action]) -> list[str]:
    names = [a.name for a in catalog]
    if not names:
        raise ValueError("The action catalog is empty: add at least one Action.")
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"Action names must be unique in the catalog; repeated: {dupes}.")
    return names


def _utc(stamp: pd.Timestamp | str) -> pd.Timestamp:
    """A naive time is taken to be UTC already (the data contract)."""
    ts = pd.Timestamp(stamp)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


@dataclass(frozen=True)
class _Past:
    """The log rows in the look-back window as arrays, one entry per logged contact; `who` is
    the position of each row's customer id in `ids` (-1: no id), so counting is a bincount."""

    action: np.ndarray  # object: the logged action names
    channel: np.ndarray  # object: the row's channel, else the catalog's for its action
    time: np.ndarray  # datetime64, UTC: numpy compares it ~50x faster than a DatetimeIndex
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


def _past_log(
    log: pd.DataFrame | None, catalog: list[Action], as_of: pd.Timestamp, days: int
) -> _Past:
    """Log rows in [as_of − days, as_of): only the past can block an offer."""
    if log is None or len(log) == 0 or days <= 0:
        none = np.empty(0, dtype=object)
        empty = np.empty(0, dtype="datetime64[ns]")
        return _Past(none, none, empty, np.empty(0, dtype=np.int64), _NO_IDS)
    missing = [c for c in LOG_COLUMNS if c not in log.columns]
    if missing:
        raise ValueError(f"The actions log lacks columns {missing}; it needs {list(LOG_COLUMNS)}.")
    time = pd.DatetimeIndex(pd.to_datetime(log["action_time"], utc=True))
    keep = np.asarray((time < as_of) & (time >= as_of - pd.Timedelta(days=days)), dtype=bool)
    action = log["action"].to_numpy(dtype=object)[keep]
    channel = log["channel"].to_numpy(dtype=object)[keep]
    by_name = {a.name: a.channel for a in catalog}  # a row without a channel: the catalog's
    unknown = pd.isna(channel)
    channel[unknown] = [by_name.get(a, np.nan) for a in action[unknown]]
    who, ids = pd.factorize(log["customer_id"].to_numpy(dtype=object)[keep])  # NaN id: -1
    utc = time[keep].tz_convert(None).to_numpy()  # naive UTC datetime64, in its own unit
    return _Past(action, channel, utc, who.astype(np.int64), pd.Index(ids))


def eligible(
    customers: pd.DataFrame,
    catalog: list[Action],
    log: pd.DataFrame | None,
    contact: ContactPolicy | None,
    as_of: pd.Timestamp,
) -> pd.DataFrame:
    """Which customer may get which action at `as_of` (customers × action names, bool).

    An action is allowed when all its rules hold, the same action was not logged within its
    cooldown_days before `as_of`, and the customer had fewer than `max_contacts` logged contacts
    on the action's channel within `period_days` before `as_of`. Only log rows strictly before
    `as_of` count; a logged action missing from the catalog still counts as a contact. Every
    check runs whatever the log holds (max_contacts 0 blocks even with an empty log); the log
    is read into arrays once, as a request for one customer is mostly overhead otherwise.
    """
    allowed = eligible_matrix(customers, catalog, log, contact, as_of)
    return pd.DataFrame(allowed, index=customers.index, columns=_names(catalog))


def eligible_matrix(
    customers: pd.DataFrame,
    catalog: list[Action],
    log: pd.DataFrame | None,
    contact: ContactPolicy | None,
    as_of: pd.Timestamp,
) -> np.ndarray:
    """`eligible` as a bool matrix: customers' rows × the catalog's actions, in order."""
    names, at = _names(catalog), _utc(as_of)
    window = max([a.cooldown_days for a in catalog] + [contact.period_days if contact else 0])
    past = _past_log(log, catalog, at, window)
    at64 = at.tz_convert(None).to_datetime64()  # naive UTC, as the log's times
    where = past.where(customers.index)
    if contact is not None:
        recent = past.since(at64, contact.period_days)
    out: dict[str, np.ndarray] = {}
    for action in catalog:
        ok = np.ones(len(customers), dtype=bool)
        for rule in action.rules:
            ok &= rule.holds(customers)
        if action.cooldown_days > 0:
            since = past.since(at64, action.cooldown_days)
            ok &= past.per_customer((past.action == action.name) & since, where) == 0
        if contact is not None:
            on_channel = recent & (past.channel == action.channel)
            ok &= past.per_customer(on_channel, where) < contact.max_contacts
        out[action.name] = ok
    return np.column_stack([out[name] for name in names])


def _matrix(frame: pd.DataFrame, names: list[str]) -> np.ndarray:
    """frame[names] as floats, missing values NaN. A frame of just those columns in any order
    (the uplift learner sorts them) is read whole and reordered by position: selecting the
    columns in pandas cost more than one customer's values."""
    if list(frame.columns) == names:
        return frame.to_numpy(dtype=float, na_value=np.nan)
    if len(frame.columns) == len(names) and frame.columns.is_unique:  # names are all in it
        return frame.to_numpy(dtype=float, na_value=np.nan)[:, frame.columns.get_indexer(names)]
    return frame[names].to_numpy(dtype=float, na_value=np.nan)


def expected_values(
    uplift: pd.DataFrame, customer_value: pd.Series, catalog: list[Action]
) -> pd.DataFrame:
    """Net expected value of each action for each customer, in money.

    value[c, a] = uplift[c, a] × customer_value[c] − cost[a], where uplift is the increase in the
    probability of the good outcome (e.g. churn avoided) that action a causes for customer c. A
    missing uplift gives a missing value, which is never allocated.
    """
    names = _names(catalog)
    missing = [n for n in names if n not in uplift.columns]
    if missing:
        raise ValueError(f"uplift has no column for actions {missing}; estimate them first.")
    same = customer_value.index.equals(uplift.index)
    worth = customer_value if same else customer_value.reindex(uplift.index)
    money = worth.to_numpy(dtype=float, na_value=np.nan)
    values = net_values(_matrix(uplift, names), money, catalog, uplift.index)
    return pd.DataFrame(values, index=uplift.index, columns=names)


def net_values(
    uplift: np.ndarray, money: np.ndarray, catalog: list[Action], ids: pd.Index
) -> np.ndarray:
    """`expected_values` on arrays: `uplift` rows × the catalog's actions, `money` each row's
    customer value; `ids` name the rows in errors."""
    if np.isnan(money).any():
        lost = list(ids[np.isnan(money)][:3])
        raise ValueError(
            f"customer_value is missing for {int(np.isnan(money).sum())} customers, e.g. {lost}."
        )
    costs = np.array([a.cost for a in catalog], dtype=float)
    return uplift * money[:, None] - costs


def _allowed(allowed: pd.DataFrame, index: pd.Index, names: list[str]) -> np.ndarray:
    """`allowed` as a bool matrix over (index, names); absent or missing cells are False.
    A frame already in that shape is read as is (reindexing costs more than one row's work)."""
    if allowed.index.equals(index) and list(allowed.columns) == names:
        cells = allowed.to_numpy()
        if cells.dtype == np.bool_:  # every column numpy bool: no missing cell to fill
            return cells
    elig = allowed.reindex(index=index, columns=names).astype("boolean").fillna(False)
    return elig.to_numpy(dtype=bool)


def _problem(
    values: pd.DataFrame, allowed: pd.DataFrame, catalog: list[Action], budget: float | None
) -> Problem:
    names = _names(catalog)
    if not values.index.is_unique:
        raise ValueError("values has repeated customer ids; give one row per customer.")
    missing = [n for n in names if n not in values.columns]
    if missing:
        raise ValueError(f"values has no column for actions {missing}; see expected_values().")
    value, ok = _matrix(values, names), _allowed(allowed, values.index, names)
    return _problem_of(value, ok, catalog, budget, values.index)


def _problem_of(
    value: np.ndarray,
    allowed: np.ndarray,
    catalog: list[Action],
    budget: float | None,
    ids: pd.Index,
) -> Problem:
    """The problem on arrays: `value` and `allowed` are rows × the catalog's actions."""
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


def _picked(p: Problem, names: list[str], chosen: np.ndarray) -> dict[str, np.ndarray]:
    """The allocation's columns (ALLOCATION_COLUMNS) as arrays over the problem's rows."""
    rows, has = np.arange(len(chosen)), chosen >= 0
    labels = np.array([*names, NONE], dtype=object)  # index -1 reads NONE
    at = np.where(has, chosen, 0)
    rest = np.where(p.ok, p.value, -np.inf)  # an action closed (capacity 0) is no runner-up
    rest[rows[has], chosen[has]] = -np.inf
    second = np.argmax(rest, axis=1)
    second_gain = rest[rows, second]
    found = np.isfinite(second_gain)
    return {
        "action": labels[chosen],
        "expected_gain": np.where(has, p.value[rows, at], 0.0),
        "cost": np.where(has, p.cost[at], 0.0),
        "runner_up": labels[np.where(found, second, -1)],
        "runner_up_gain": np.where(found, second_gain, 0.0),
    }


def _frame(p: Problem, index: pd.Index, names: list[str], chosen: np.ndarray) -> pd.DataFrame:
    # fresh arrays: copying them into one block cost more than a row's work
    return pd.DataFrame(_picked(p, names, chosen), index=index, copy=False)


def best_each(values: pd.DataFrame, eligible: pd.DataFrame, catalog: list[Action]) -> pd.DataFrame:
    """Each customer's own best: the eligible action of highest positive value, else "none".
    No budget, and a capacity only closes an action when 0: what one customer's request needs,
    whoever else is scored in the same call. Ties go to the earlier catalog action. Same
    columns as `allocate`."""
    p = _problem(values, eligible, catalog, None)
    out = pd.DataFrame(_best_each(p, _names(catalog)), index=values.index, copy=False)
    out.attrs["status"] = "each customer's best eligible action"
    return out


def best_each_arrays(
    values: np.ndarray, allowed: np.ndarray, catalog: list[Action], ids: pd.Index
) -> dict[str, np.ndarray]:
    """`best_each` on arrays (rows × the catalog's actions), its columns as arrays: what a
    request's few customers need, without the frames."""
    return _best_each(_problem_of(values, allowed, catalog, None, ids), _names(catalog))


def _best_each(p: Problem, names: list[str]) -> dict[str, np.ndarray]:
    worth = np.where(p.ok, p.value, -np.inf)
    best = np.argmax(worth, axis=1)
    found = np.isfinite(worth[np.arange(len(worth)), best])
    return _picked(p, names, np.where(found, best, -1))


def allocate(
    values: pd.DataFrame,
    eligible: pd.DataFrame,
    catalog: list[Action],
    budget: float | None,
    method: Literal["greedy", "exact"] = "exact",
    *,
    time_limit: float = 60.0,
    gap: float = 1e-5,
) -> pd.DataFrame:
    """The action per customer that maximises total expected value, with "none" always allowed.

    Constraints: at most one action per customer, total cost <= budget (None: unlimited), at most
    `capacity` customers per action, never an ineligible action nor one with value <= 0 (or
    missing). "greedy" takes pairs by value density. "exact" maximises total value as a MILP:
    Lagrangian reduced-cost fixing shrinks it, HiGHS solves the rest to a relative `gap`; within
    `time_limit` s, else the best feasible solution found. It is never below greedy. Greedy ties
    go to the smaller customer id, then the earlier catalog action. Customers absent from
    `eligible` are ineligible for everything.

    Returns a frame indexed like `values` with columns action, expected_gain, cost, runner_up
    (the best other eligible action with positive value that this run could give: open and
    affordable on its own; else "none") and runner_up_gain;
    `.attrs["status"]` says how the answer was found.
    """
    if gap < 0 or time_limit < 0:
        raise ValueError(f"gap and time_limit must be >= 0, got {gap} and {time_limit}.")
    p = _problem(values, eligible, catalog, budget)
    if method == "greedy":
        chosen, status = greedy(p), "greedy: by value density"
    elif method == "exact":
        chosen, status = exact(p, time_limit, gap)
    else:
        raise ValueError(f"method must be 'greedy' or 'exact', got {method!r}.")
    out = _frame(p, values.index, _names(catalog), chosen)
    out.attrs["status"] = status
    return out
