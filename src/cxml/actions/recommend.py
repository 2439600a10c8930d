"""The next best action per customer, with its gain, the runner-up and the reason in words.

Pure composition of policy.py: the uplift model's estimates become values (uplift x customer
value - cost), the contact log and rules decide who may get what, and the allocation respects
the budget and capacities. The reason says which of the customer's risk drivers the action
addresses (from the reason codes), or else what it is expected to change.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from cxml.actions.calibration import Z90
from cxml.actions.fallback import Fallback, ranking
from cxml.actions.policy import NONE, Allocation, allocate, best_each, eligible, net_values
from cxml.config import ActionsConfig, CustomerValue
from cxml.features.table import Table
from cxml.models.explain import DRIVER_ACTIONS
from cxml.models.survival import Grid, kept_value

RECOMMENDATION_COLUMNS = [
    "action",
    "action_expected_gain",
    "action_cost",
    "action_uplift",
    "action_reason",
    "runner_up_action",
]


def customer_value(features: Table, value: CustomerValue) -> np.ndarray:
    """multiplier x the configured feature (e.g. 12 x monthly charge); 0 when unknown."""
    if value.feature not in features:
        raise ValueError(
            f"actions.value.feature: no feature column '{value.feature}' to value customers"
        )
    numbers = pd.to_numeric(np.asarray(features.columns[value.feature]), errors="coerce")
    values = np.asarray(numbers, dtype=float)
    return np.where(np.isnan(values), 0.0, values) * value.multiplier


def monthly_margin(features: Table, value: CustomerValue) -> np.ndarray:
    """The margin a customer pays each month: `margin` of the value's (monthly) feature."""
    return value.margin * customer_value(features, value) / value.multiplier


def customer_values(
    features: Table, config: ActionsConfig, curve: np.ndarray | None, grid: Grid | None
) -> np.ndarray:
    """What keeping each customer is worth under the config's rule (CustomerValue): the fixed
    multiple of a feature, or the margin of the months they are expected to stay once past the
    action's horizon, read off their time-to-churn `curve` on `grid`."""
    value = config.value
    if value.rule == "fixed":
        return customer_value(features, value)
    if curve is None or grid is None:
        raise ValueError(
            "actions.value.rule is 'lifetime', but the model has no time-to-churn curve to read "
            "it from (it is fitted only on churn labels derived from a dated event log): set "
            "rule: fixed, or retrain on such a log"
        )
    per_month = monthly_margin(features, value)
    return kept_value(
        curve, grid, per_month, config.horizon_days, value.multiplier, value.yearly_discount
    )


def anchors(config: ActionsConfig) -> bool:
    """Whether the uplift learner's effects are taken at a calibrated level
    (models/metalearner.anchored): when the actions aim at churn, which the churn model
    calibrates out of time; an outcome no model calibrates keeps the learner's own level."""
    return config.outcome == "churn"


def effect_level(config: ActionsConfig, churn_probability: np.ndarray) -> np.ndarray | None:
    """Where the uplift learner's effects are taken: the chance of staying without an action,
    1 − the churn model's calibrated probability (None: see `anchors`)."""
    if not anchors(config):
        return None
    return 1.0 - np.asarray(churn_probability, dtype=float)


def attributes(features: Table, value: np.ndarray) -> Table:
    """What eligibility rules may read: profile attributes by their own names (profile_plan as
    plan), every other feature, and customer_value; the columns themselves, not copies."""
    columns = {name.removeprefix("profile_"): features.columns[name] for name in features}
    return Table(features.index, columns | {"customer_value": value})


#: Why a customer gets no action, when it is not the control group or exploration.
NOT_ELIGIBLE = "no action is open to this customer (its rules, contact cap or cooldown)"
NOT_WORTH = "no action is worth its cost for this customer"
#: A chosen action whose uplift model finds nothing in the customer that raises its effect.
AVERAGE_EFFECT = "with no trait of this customer's raising its effect above the average"

DECISION_WHY = {
    "control": "control group: held out at random, to measure what the actions achieve",
    "explore": "exploring: an eligible action drawn at random, to learn what it achieves",
}


def _why(action: str, uplift: float, families: list[str], texts: list[str]) -> str:
    words = action.replace("_", " ")
    if action == "none":
        return NOT_WORTH
    for family, text in zip(families, texts, strict=True):
        if text and action in DRIVER_ACTIONS.get(str(family), ()):
            return f"{words} addresses: {text}"
    return f"{words} is expected to cut the churn risk by {100 * uplift:.1f} points"


def _reason_lists(reasons: Mapping[str, np.ndarray] | None, rows: np.ndarray) -> tuple[list, list]:
    """(families, texts) at `rows` of the reason arrays: plain lists, so the loop stays cheap."""
    if reasons is None:
        return [[]] * len(rows), [[]] * len(rows)

    def column(name: str) -> np.ndarray:
        values = np.asarray(reasons[name], dtype=object)[rows]
        return np.where(pd.isna(values), "", values)

    families = [column(f"reason_family_{i}") for i in (1, 2, 3)]
    texts = [column(f"reason_{i}") for i in (1, 2, 3)]
    return np.column_stack(families).tolist(), np.column_stack(texts).tolist()


@dataclass
class Options:
    """Per customer and action, what an allocation chooses from: arrays over the customers'
    rows × the catalog's actions."""

    index: pd.Index  # the customers
    names: list[str]  # the catalog's actions, in order
    uplift: np.ndarray  # fall in the outcome's probability the action causes
    value: np.ndarray  # uplift x customer value - cost
    allowed: np.ndarray  # eligibility, contact rules and cooldowns
    customer_values: np.ndarray
    #: What the allocation ranks by when it is not `value`: a simple policy's choice, the model
    #: having fallen back to it (actions/fallback.py); `allowed` is then that policy's.
    ranking: np.ndarray | None = None
    fallback: Fallback | None = None
    #: The standard error of each uplift, where the learner's effects were calibrated on a
    #: held-out campaign (actions/calibration.py); None: nothing measured them.
    uplift_se: np.ndarray | None = None

    @classmethod
    def concat(cls, parts: list[Options]) -> Options:
        """Blocks of customers' options (before any fallback), one after the other."""
        first = parts[0]

        def stacked(name: str) -> np.ndarray:
            return np.concatenate([getattr(part, name) for part in parts])

        return cls(
            first.index.append([part.index for part in parts[1:]]),
            first.names,
            stacked("uplift"),
            stacked("value"),
            stacked("allowed"),
            stacked("customer_values"),
            uplift_se=None if first.uplift_se is None else stacked("uplift_se"),
        )


def fall_back(found: Options, fallback: Fallback, risk: np.ndarray) -> Options:
    """The options under which the allocation chooses as the simple `fallback` policy does;
    the values (what each action is expected to earn) stay the model's."""
    rank, allowed = ranking(fallback, found.names, found.allowed, risk, found.index)
    return replace(found, ranking=rank, allowed=allowed, fallback=fallback)


def options(
    estimates: np.ndarray,
    actions: list[str],
    features: Table,
    log: pd.DataFrame | None,
    config: ActionsConfig,
    as_of: pd.Timestamp,
    se: np.ndarray | None = None,
    money: np.ndarray | None = None,
) -> Options:
    """Each customer's options from their own rows alone (no other customer is needed), from
    the uplift model's estimates (rows of `features` × its `actions`) and, when known, their
    standard errors `se` (the same shape). `money`: what keeping each is worth
    (`customer_values`); None: the fixed rule's value."""
    if len(estimates) != len(features):
        raise ValueError(
            f"{len(estimates)} rows of uplift estimates for {len(features)} customers: "
            "estimate the uplift of these customers' own features"
        )
    names = config.names
    position = {action: j for j, action in enumerate(actions)}
    missing = [n for n in names if n not in position]
    if missing:
        raise ValueError(f"the uplift model has no estimate for action(s) {missing}: retrain")
    columns = [position[n] for n in names]
    uplift = np.asarray(estimates, dtype=float)[:, columns]
    if money is None:
        money = customer_value(features, config.value)
    customers = attributes(features, money)
    allowed = eligible(customers, config.catalog, log, config.contact, as_of, config.control)
    values = net_values(uplift, money, config.catalog, features.index)
    spread = None if se is None else np.asarray(se, dtype=float)[:, columns]
    return Options(features.index, names, uplift, values, allowed, money, uplift_se=spread)


def choose(found: Options, config: ActionsConfig, per_customer: bool = False) -> Allocation:
    """`allocate` under the config's budget and capacities (`per_customer`: each customer's
    best eligible action, `best_each`; what one customer's request needs). For a run,
    only customers with an eligible action worth more than its cost can get one, so only they
    reach the solver, in id order; the rest get "none". The solver then sees the same problem
    however the base is split or ordered (on Spark only those customers reach the driver)."""
    if found.ranking is not None:
        return valued(
            choose(replace(found, value=found.ranking, ranking=None), config, per_customer), found
        )
    if per_customer:
        return best_each(found.value, found.allowed, config.catalog, found.index)
    worth = found.allowed & (np.nan_to_num(found.value, nan=-np.inf) > 0)
    some = np.flatnonzero(worth.any(axis=1))
    with suppress(TypeError):  # ids of mixed types: keep the given order
        some = some[np.argsort(found.index[some].to_numpy(), kind="stable")]
    picked = allocate(
        found.value[some],
        found.allowed[some],
        config.catalog,
        config.budget,
        found.index[some],
        config.allocation,
    )
    n = len(found.index)
    columns = {
        "action": np.full(n, NONE, dtype=object),
        "expected_gain": np.zeros(n),
        "cost": np.zeros(n),
        "runner_up": np.full(n, NONE, dtype=object),
        "runner_up_gain": np.zeros(n),
    }
    for name, values in columns.items():
        values[some] = picked[name]
    return Allocation(found.index, columns, picked.status)


def valued(chosen: Allocation, found: Options) -> Allocation:
    """An allocation made by another ranking, with the gains read from the model's values."""
    columns = dict(chosen.columns)
    for action, gain in (("action", "expected_gain"), ("runner_up", "runner_up_gain")):
        where = {name: j for j, name in enumerate(found.names)}
        column = np.array([where.get(a, -1) for a in columns[action]], dtype=np.int64)
        rows = np.arange(len(column))
        value = found.value[rows, np.maximum(column, 0)]
        columns[gain] = np.where(column >= 0, np.nan_to_num(value), 0.0)
    return Allocation(
        chosen.index, columns, f"fallback: {found.fallback and found.fallback.policy}"
    )


def describe(
    found: Options,
    chosen: Table,
    reasons: Mapping[str, np.ndarray] | None,
    drivers: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """The chosen action per customer with its gain, cost, uplift, runner-up and why in words
    (from the reason codes: which of the customer's risk drivers it addresses). `chosen`: the
    allocation, and `reasons` the reason_<i> and reason_family_<i> arrays, both aligned with
    the options' rows."""
    picked = np.asarray(chosen["action"], dtype=object)
    position = {name: j for j, name in enumerate(found.names)}  # "none" has no column: -1
    columns = np.array([position.get(action, -1) for action in picked], dtype=np.int64)
    rows = np.arange(len(picked))
    gain_uplift = np.where(columns >= 0, found.uplift[rows, np.maximum(columns, 0)], 0.0)
    gain = np.asarray(chosen["expected_gain"], dtype=float)
    interval = {}
    if found.uplift_se is not None:  # 90%: the calibration's uncertainty, in money
        se = np.where(columns >= 0, found.uplift_se[rows, np.maximum(columns, 0)], 0.0)
        half = Z90 * se * found.customer_values
        interval = {"action_gain_low": gain - half, "action_gain_high": gain + half}
    families, texts = _reason_lists(reasons, rows)
    steps = zip(picked, gain_uplift, families, texts, strict=True)
    # as objects: a fixed-width text array would take the longest text's width on every row
    why = np.array(
        [_why(action, gain, family, text) for action, gain, family, text in steps], dtype=object
    )
    if drivers is not None:  # the uplift model's own word on why this action, for this customer
        treated = picked != NONE
        has = treated & (np.asarray(drivers, dtype=object) != "")
        named = [a.replace("_", " ") for a in picked[has]]
        why[has] = [
            f"{w}: helps most here because of {d}" for w, d in zip(named, drivers[has], strict=True)
        ]
        plain = treated & ~has  # nothing of this customer's raises the effect: say so
        why[plain] = [
            f"{a.replace('_', ' ')}: expected to cut the churn risk by {100 * u:.1f} points, "
            f"{AVERAGE_EFFECT}"
            for a, u in zip(picked[plain], gain_uplift[plain], strict=True)
        ]
    if found.fallback is None:
        _none_why(why, picked, found)
    else:
        words = found.fallback.policy.replace("_", " ")
        why[:] = [f"{a.replace('_', ' ')}: the simple policy in use ({words})" for a in picked]
        why[picked == NONE] = f"the simple policy in use ({words}) gives this customer no action"
    randomised = {}
    if "decision" in chosen:
        decision = np.asarray(chosen["decision"], dtype=object)
        for kind, text in DECISION_WHY.items():
            why[decision == kind] = text
        randomised = {
            "action_decision": decision,
            "policy_action": np.asarray(chosen["policy_action"], dtype=object),
            "action_propensity": np.asarray(chosen["propensity"], dtype=float),
            "decision_id": np.asarray(chosen["decision_id"], dtype=object),
        }
    return {
        "action": picked,
        "action_expected_gain": gain,
        **interval,
        "action_cost": np.asarray(chosen["cost"], dtype=float),
        "action_uplift": gain_uplift,
        "action_reason": np.array(why, dtype=object),
        "runner_up_action": np.asarray(chosen["runner_up"], dtype=object),
        "customer_value": found.customer_values,
        **randomised,
    }


def _none_why(why: np.ndarray, picked: np.ndarray, found: Options) -> None:
    """The real cause of each "none": no action open to the customer, or none worth its cost,
    or (the rest) the budget or a capacity went to customers where it is worth more."""
    none = picked == NONE
    open_ = found.allowed.any(axis=1)
    value = np.where(found.allowed, np.nan_to_num(found.value, nan=-np.inf), -np.inf)
    best = value.max(axis=1, initial=-np.inf)
    why[none & ~open_] = NOT_ELIGIBLE
    crowded = np.flatnonzero(none & open_ & (best > 0))
    for i in crowded:
        action = found.names[int(np.argmax(value[i]))].replace("_", " ")
        why[i] = (
            f"the budget or {action}'s capacity went to customers where it is worth more "
            f"({action} was worth {best[i]:,.0f} after its cost)"
        )
