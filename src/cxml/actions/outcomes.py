"""How earlier decisions turned out: realised impact, from the run's own randomisation.

A run's control group is drawn at random within each risk band, independently of what the
allocation chose, so among the customers the allocation gave action `a`, the treated and the
held-out differ only by chance: the difference of their churn rates is the realised effect of
`a` on the customers it was aimed at (difference in means, with a normal-approximation interval).
Over the whole run, the logged propensities let inverse-propensity weighting (IPS) and doubly
robust (DR) estimates value the policy as chosen against no action for anyone.

Pure functions on the decisions table (`jobs/score.py` writes it) joined with the realised
outcome per customer (`churned`: 1.0 or 0.0).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cxml.actions.offpolicy import dr_terms, ips_terms, terms_ci
from cxml.config import NO_ACTION

Z95 = 1.959964

#: Columns of the per-action table (`by_action`), the overall row included.
IMPACT_COLUMNS = [
    "action",
    "treated",
    "control",
    "churn_treated",
    "churn_control",
    "realised_uplift",
    "low",
    "high",
    "predicted_uplift",
    "expected_gain",
    "realised_gain",
]


def _difference(treated: np.ndarray, control: np.ndarray) -> tuple[float, float, float]:
    """control − treated churn rate (the churn the action avoided) and its 95% interval."""
    if len(treated) == 0 or len(control) == 0:
        return np.nan, np.nan, np.nan
    p1, p0 = treated.mean(), control.mean()
    se = np.sqrt(p1 * (1 - p1) / len(treated) + p0 * (1 - p0) / len(control))
    diff = p0 - p1
    return float(diff), float(diff - Z95 * se), float(diff + Z95 * se)


def _impact(name: str, group: pd.DataFrame) -> dict[str, object]:
    treated = group[group["decision"] == "policy"]
    control = group[group["decision"] == "control"]
    uplift, low, high = _difference(
        treated["churned"].to_numpy(float), control["churned"].to_numpy(float)
    )
    value = treated["customer_value"].to_numpy(float)
    realised = uplift * value.sum() - treated["cost"].sum() if len(treated) else np.nan
    return {
        "action": name,
        "treated": len(treated),
        "control": len(control),
        "churn_treated": treated["churned"].mean() if len(treated) else np.nan,
        "churn_control": control["churned"].mean() if len(control) else np.nan,
        "realised_uplift": uplift,
        "low": low,
        "high": high,
        "predicted_uplift": treated["uplift"].mean() if len(treated) else np.nan,
        "expected_gain": treated["expected_gain"].sum(),
        "realised_gain": realised,
    }


def by_action(joined: pd.DataFrame) -> pd.DataFrame:
    """Per action the allocation chose (and `all` of them), treated vs held-out customers of
    that choice: churn rates, the realised uplift (churn avoided) with its interval, the
    predicted uplift, and the expected against the realised gain (realised uplift × the treated
    customers' value − their cost)."""
    aimed = joined[joined["policy_action"] != NO_ACTION]
    rows = [_impact("all", aimed)]
    rows += [_impact(str(a), group) for a, group in aimed.groupby("policy_action", sort=True)]
    return pd.DataFrame(rows, columns=IMPACT_COLUMNS)


def by_decile(joined: pd.DataFrame, bins: int = 10) -> pd.DataFrame:
    """Predicted against realised uplift by decile of the predicted uplift, among the customers
    the allocation gave an action (treated vs held out within each decile)."""
    aimed = joined[joined["policy_action"] != NO_ACTION]
    aimed = aimed[aimed["decision"].isin(["policy", "control"])]
    if len(aimed) < bins:
        return pd.DataFrame(columns=["decile", *IMPACT_COLUMNS[1:]])
    decile = pd.qcut(aimed["uplift"].rank(method="first"), bins, labels=False) + 1
    rows = [_impact(str(d), group) for d, group in aimed.groupby(decile, sort=True)]
    return pd.DataFrame(rows, columns=IMPACT_COLUMNS).rename(columns={"action": "decile"})


def policy_values(joined: pd.DataFrame, n_boot: int = 500, seed: int = 0) -> pd.DataFrame:
    """The retained share under the policy as the allocation chose it, and under no action for
    anyone, by IPS and DR with the logged propensities; and their difference (the policy's
    realised impact). DR's outcome model: the scored churn probability without action, less
    the predicted uplift of the policy's action."""
    retained = 1.0 - joined["churned"].to_numpy(float)
    taken = joined["action"].to_numpy(object)
    propensity = joined["propensity"].to_numpy(float)
    chosen = joined["policy_action"].to_numpy(object)
    stay = 1.0 - joined["churn_probability"].to_numpy(float)
    gain = np.where(taken == chosen, joined["uplift"].to_numpy(float), 0.0)
    names = sorted(set(chosen) | set(taken) | {NO_ACTION})
    predicted = pd.DataFrame({a: stay for a in names})
    rows = np.arange(len(joined))
    for a in names:
        if a != NO_ACTION:
            aims = chosen == a
            predicted.loc[rows[aims], a] = np.clip(stay[aims] + np.nan_to_num(gain[aims]), 0, 1)
    out = []
    for estimator, terms_of in (("ips", ips_terms), ("dr", dr_terms)):
        extra = (predicted,) if estimator == "dr" else ()
        policy = terms_of(retained, taken, propensity, chosen, *extra)
        nobody = terms_of(retained, taken, propensity, NO_ACTION, *extra)
        for name, terms in (
            ("policy", policy),
            ("no action", nobody),
            ("policy - no action", policy - nobody),
        ):
            out.append((name, estimator, *terms_ci(terms, n_boot, seed=seed)))
    return pd.DataFrame(out, columns=["policy", "estimator", "retained", "low", "high"])
