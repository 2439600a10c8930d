"""The next best action per customer, with its gain, the runner-up and the reason in words.

Pure composition of policy.py: the pipeline's action catalog becomes `Action`s, the uplift model's
estimates become values (uplift x customer value - cost), the contact log and rules decide who may
get what, and the allocation respects the budget and capacities. The reason says which of the
customer's risk drivers the action addresses (from the reason codes), or else what it is
expected to change.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from cxml.actions.policy import (
    NONE,
    Action,
    ContactPolicy,
    Rule,
    allocate,
    best_each,
    eligible_matrix,
    net_values,
)
from cxml.config import ActionsConfig
from cxml.features.catalog import FeatureTable
from cxml.models.explain import DRIVER_ACTIONS

RECOMMENDATION_COLUMNS = [
    "action",
    "action_expected_gain",
    "action_cost",
    "action_uplift",
    "action_reason",
    "runner_up_action",
]


def catalog_of(config: ActionsConfig) -> list[Action]:
    return [
        Action(
            name=a.name,
            channel=a.channel,
            cost=a.cost,
            rules=tuple(Rule(r.column, r.isin, r.min, r.max) for r in a.rules),
            capacity=a.capacity,
            cooldown_days=a.cooldown_days,
        )
        for a in config.catalog
    ]


def contact_of(config: ActionsConfig) -> ContactPolicy | None:
    c = config.contact
    return None if c is None else ContactPolicy(c.max_contacts, c.period_days)


def customer_value(features: pd.DataFrame, config: ActionsConfig) -> pd.Series:
    """multiplier x the configured feature (e.g. 12 x monthly charge); 0 when unknown."""
    return pd.Series(_money(features, config), index=features.index, name="customer_value")


def _money(features: FeatureTable, config: ActionsConfig) -> np.ndarray:
    """`customer_value` as an array (numpy: a Series operation per step cost more than a row)."""
    name = config.value.feature
    if name not in features:
        raise ValueError(f"actions.value.feature: no feature column '{name}' to value customers")
    column = features[name]
    if not pd.api.types.is_numeric_dtype(column):
        column = pd.to_numeric(column, errors="coerce")
    if isinstance(column, pd.Series):
        values = column.to_numpy(dtype=float, na_value=np.nan)
    else:  # the built array: making a Series of it cost more than the rest
        values = np.asarray(column, dtype=float)
    return np.where(np.isnan(values), 0.0, values) * config.value.multiplier


def attributes(
    features: FeatureTable, value: pd.Series | np.ndarray, only: set[str] | None = None
) -> pd.DataFrame:
    """What eligibility rules may read: profile attributes by their own names, every feature,
    and customer_value. `only`: just these names, when each names exactly one column (copying
    every feature costs more than scoring one customer); else all, so a rule naming a missing
    column is told what there is."""
    picked = None if only is None else _named(features, only - {"customer_value"})
    if picked is not None:
        columns = {name: _array(features[column]) for name, column in picked.items()}
        columns["customer_value"] = np.asarray(value)
        return pd.DataFrame(columns, index=features.index)
    frame = features if isinstance(features, pd.DataFrame) else features.frame()
    profile = {c: c.removeprefix("profile_") for c in frame.columns if c.startswith("profile_")}
    return frame.rename(columns=profile).assign(customer_value=np.asarray(value))


def _array(column: pd.Series | np.ndarray) -> Any:
    """A frame's column as its array (a categorical stays one), or the built array itself."""
    return column.array if isinstance(column, pd.Series) else column


def _named(features: FeatureTable, names: set[str]) -> dict[str, str] | None:
    """The column each name reads (profile_<name> for a profile attribute), in alphabetical
    order, or None when a name has no column or two."""
    picked = {}
    for name in sorted(names):
        direct = name in features and not name.startswith("profile_")
        prefixed = f"profile_{name}" in features
        if direct == prefixed:
            return None
        picked[name] = name if direct else f"profile_{name}"
    return picked


def rule_columns(catalog: list[Action]) -> set[str]:
    """The attribute names the catalog's eligibility rules read."""
    return {rule.column for action in catalog for rule in action.rules}


def _why(action: str, uplift: float, families: list[str], texts: list[str]) -> str:
    words = action.replace("_", " ")
    if action == "none":
        return "no action is worth its cost for this customer"
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
    rows × the catalog's actions, framed only when asked (for one customer, the frames cost
    more than the rest)."""

    index: pd.Index  # the customers
    names: list[str]  # the catalog's actions, in order
    uplift_matrix: np.ndarray  # fall in the outcome's probability the action causes
    value_matrix: np.ndarray  # uplift x customer value - cost
    allowed_matrix: np.ndarray  # eligibility, contact rules and cooldowns
    customer_values: np.ndarray

    @property
    def values(self) -> pd.DataFrame:
        return pd.DataFrame(self.value_matrix, index=self.index, columns=self.names)

    @property
    def allowed(self) -> pd.DataFrame:
        return pd.DataFrame(self.allowed_matrix, index=self.index, columns=self.names)


def options(
    uplift: pd.DataFrame,
    features: pd.DataFrame,
    log: pd.DataFrame | None,
    config: ActionsConfig,
    as_of: pd.Timestamp,
) -> Options:
    """Each customer's options from their own rows alone (no other customer is needed), for
    the customers of `uplift` (each must be in `features`)."""
    absent = ~uplift.index.isin(features.index)
    if absent.any():
        lost = list(uplift.index[absent][:3])
        raise ValueError(
            f"customer_value is missing for {int(absent.sum())} customers, e.g. {lost}."
        )
    rows = features if features.index.equals(uplift.index) else features.loc[uplift.index]
    estimates = uplift.to_numpy(dtype=float, na_value=np.nan)
    return options_of(estimates, list(uplift.columns), rows, log, config, as_of)


def options_of(
    estimates: np.ndarray,
    actions: list[str],
    features: FeatureTable,
    log: pd.DataFrame | None,
    config: ActionsConfig,
    as_of: pd.Timestamp,
) -> Options:
    """`options` from the uplift model's estimates (rows of `features` × its `actions`)."""
    catalog = catalog_of(config)
    names = [a.name for a in catalog]
    position = {action: j for j, action in enumerate(actions)}
    missing = [n for n in names if n not in position]
    if missing:
        raise ValueError(f"the uplift model has no estimate for action(s) {missing}: retrain")
    uplift = estimates[:, [position[n] for n in names]]
    money = _money(features, config)
    customers = attributes(features, money, rule_columns(catalog))
    allowed = eligible_matrix(customers, catalog, log, contact_of(config), as_of)
    values = net_values(uplift, money, catalog, features.index)
    return Options(features.index, names, uplift, values, allowed, money)


def choose(
    values: pd.DataFrame, allowed: pd.DataFrame, config: ActionsConfig, per_customer: bool = False
) -> pd.DataFrame:
    """`allocate` under the config's budget and capacities (`per_customer`: each customer's
    best eligible action, `best_each`; what one customer's request needs). For a run,
    only customers with an eligible action worth more than its cost can get one, so only they
    reach the solver, in id order; the rest get "none". The solver then sees the same problem
    however the base is split or ordered (on Spark only those customers reach the driver)."""
    catalog = catalog_of(config)
    if per_customer:
        return best_each(values, allowed, catalog)
    names = [a.name for a in catalog]
    ok = allowed.reindex(index=values.index, columns=names).to_numpy(dtype=bool, na_value=False)
    worth = values[names].to_numpy(dtype=float, na_value=np.nan) > 0
    some = values.index[(ok & worth).any(axis=1)]
    with suppress(TypeError):  # ids of mixed types: keep the given order
        some = some.sort_values()
    picked = allocate(
        values.loc[some], allowed.loc[some], catalog, config.budget, config.allocation
    )
    chosen = pd.DataFrame(
        {"action": NONE, "expected_gain": 0.0, "cost": 0.0, "runner_up": NONE,
         "runner_up_gain": 0.0},
        index=values.index,
    )  # fmt: skip
    if len(some):
        chosen.loc[some, picked.columns] = picked
    chosen.attrs["status"] = picked.attrs.get("status", "")
    return chosen


def describe(
    found: Options, chosen: Mapping[str, Any], reasons: Mapping[str, np.ndarray] | None
) -> dict[str, np.ndarray]:
    """The chosen action per customer with its gain, cost, uplift, runner-up and why in words
    (from the reason codes: which of the customer's risk drivers it addresses). `chosen`: the
    allocation's columns (a frame from `choose`, or arrays) and `reasons` the reason_<i> and
    reason_family_<i> arrays, both aligned with the options' rows. Arrays, not a frame: for one
    customer the frame cost more than the rest."""
    picked = np.asarray(chosen["action"], dtype=object)
    position = {name: j for j, name in enumerate(found.names)}  # "none" has no column: -1
    columns = np.array([position.get(action, -1) for action in picked], dtype=np.int64)
    rows = np.arange(len(picked))
    gain_uplift = np.where(columns >= 0, found.uplift_matrix[rows, np.maximum(columns, 0)], 0.0)
    families, texts = _reason_lists(reasons, rows)
    steps = zip(picked, gain_uplift, families, texts, strict=True)
    why = [_why(action, gain, family, text) for action, gain, family, text in steps]
    return {
        "action": picked,
        "action_expected_gain": np.asarray(chosen["expected_gain"], dtype=float),
        "action_cost": np.asarray(chosen["cost"], dtype=float),
        "action_uplift": gain_uplift,
        "action_reason": np.array(why, dtype=object),
        "runner_up_action": np.asarray(chosen["runner_up"], dtype=object),
        "customer_value": found.customer_values,
    }


def recommend(
    uplift: pd.DataFrame,
    features: pd.DataFrame,
    log: pd.DataFrame | None,
    config: ActionsConfig,
    as_of: pd.Timestamp,
    reasons: pd.DataFrame | None = None,
    per_customer: bool = False,
) -> pd.DataFrame:
    """One row per customer (index of `features`): the allocated action and why. With
    `per_customer`, each customer's best eligible action, ignoring the run's budget and
    capacities (which only mean something across a whole scoring run)."""
    found = options(uplift, features, log, config, as_of)
    chosen = choose(found.values, found.allowed, config, per_customer)  # indexed as found
    arrays = None
    if reasons is not None:
        aligned = reasons.reindex(found.index)
        arrays = {str(c): aligned[c].to_numpy(dtype=object) for c in aligned.columns}
    return pd.DataFrame(describe(found, chosen, arrays), index=found.index)
