"""The next best action per customer, with its gain, the runner-up and the reason in words.

Pure composition of policy.py: the pipeline's action catalog becomes `Action`s, the uplift model's
estimates become values (uplift x customer value - cost), the contact log and rules decide who may
get what, and the allocation respects the budget and capacities. The reason says which of the
customer's risk drivers the action addresses (from the reason codes), or else what it is
expected to change.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cxml.actions.policy import Action, ContactPolicy, Rule, allocate, eligible, expected_values
from cxml.config import ActionsConfig
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
    name = config.value.feature
    if name not in features:
        raise ValueError(f"actions.value.feature: no feature column '{name}' to value customers")
    values = pd.to_numeric(features[name], errors="coerce").fillna(0.0)
    return (values * config.value.multiplier).rename("customer_value")


def attributes(features: pd.DataFrame, value: pd.Series) -> pd.DataFrame:
    """What eligibility rules may read: profile attributes by their own names, every feature,
    and customer_value."""
    profile = {c: c.removeprefix("profile_") for c in features.columns if c.startswith("profile_")}
    frame = features.rename(columns=profile)
    return frame.assign(customer_value=value.to_numpy())


def _why(action: str, uplift: float, families: list[str], texts: list[str]) -> str:
    words = action.replace("_", " ")
    if action == "none":
        return "no action is worth its cost for this customer"
    for family, text in zip(families, texts, strict=True):
        if text and action in DRIVER_ACTIONS.get(str(family), ()):
            return f"{words} addresses: {text}"
    return f"{words} is expected to cut the churn risk by {100 * uplift:.1f} points"


def _reason_arrays(reasons: pd.DataFrame | None, index: pd.Index) -> tuple[list, list]:
    """(families, texts) per row of `index`: plain lists, so the loop stays cheap."""
    if reasons is None:
        return [[]] * len(index), [[]] * len(index)
    rows = reasons.reindex(index)
    families = rows[[f"reason_family_{i}" for i in (1, 2, 3)]].fillna("").to_numpy().tolist()
    texts = rows[[f"reason_{i}" for i in (1, 2, 3)]].fillna("").to_numpy().tolist()
    return families, texts


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
    catalog = catalog_of(config)
    names = [a.name for a in catalog]
    missing = [n for n in names if n not in uplift.columns]
    if missing:
        raise ValueError(f"the uplift model has no estimate for action(s) {missing}: retrain")
    value = customer_value(features, config)
    allowed = eligible(attributes(features, value), catalog, log, contact_of(config), as_of)
    values = expected_values(uplift[names], value, catalog)
    if per_customer:
        chosen = allocate(values, allowed, catalog, None, "greedy")
    else:
        chosen = allocate(values, allowed, catalog, config.budget, config.allocation)
    picked = chosen["action"].to_numpy()
    columns = uplift.columns.get_indexer(picked)
    rows = uplift.index.get_indexer(chosen.index)
    gain_uplift = np.where(columns >= 0, uplift.to_numpy()[rows, np.maximum(columns, 0)], 0.0)
    out = pd.DataFrame(index=chosen.index)
    out["action"] = picked
    out["action_expected_gain"] = chosen["expected_gain"].to_numpy()
    out["action_cost"] = chosen["cost"].to_numpy()
    out["action_uplift"] = gain_uplift
    families, texts = _reason_arrays(reasons, chosen.index)
    out["action_reason"] = [
        _why(a, u, f, t) for a, u, f, t in zip(picked, gain_uplift, families, texts, strict=True)
    ]
    out["runner_up_action"] = chosen["runner_up"].to_numpy()
    out["customer_value"] = value.reindex(out.index).to_numpy()
    return out
