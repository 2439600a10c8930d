"""Never worse than a simple policy: the learned policy is used only when, out of time, it beat
the best simple one beyond the interval of their difference; else the run falls back to it.

The check is doubly robust on a held-out campaign (logged actions with their propensities, the
outcomes that followed): each policy's gain over no action, summed over the customers, and the
learned policy's paired difference with the best simple policy (`decide` says which is best: one
campaign alone is too noisy to rank them). The fallback itself is applied
by what the allocation ranks by (`ranking`): the simple policy's choice under the same budget,
capacities and eligibility, so batch, Spark and the endpoint apply it alike.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cxml.actions.offpolicy import terms_ci

LEARNED = "cxml"
#: The simple policies a learned one must beat (actions/baselines.py), in order of preference
#: on a tie: the one that spends least first.
SIMPLE = ("no_action", "top_risk_best_average", "everyone_best_average")


@dataclass(frozen=True)
class Fallback:
    """The simple policy a model falls back to, the best average action it gives, and why."""

    policy: str
    action: str
    why: str

    def as_info(self) -> dict[str, str]:
        return {"policy": self.policy, "action": self.action, "why": self.why}

    @classmethod
    def from_info(cls, info: object) -> Fallback | None:
        if not isinstance(info, Mapping):
            return None
        return cls(str(info["policy"]), str(info["action"]), str(info["why"]))


def compare(gains: Mapping[str, np.ndarray], n_boot: int = 500, seed: int = 0) -> pd.DataFrame:
    """Per policy: its summed DR gain over no action with a 95% interval; and the learned
    policy's paired difference with each simple policy (rows "cxml - <policy>")."""
    rows = []
    for name, terms in gains.items():
        mean, low, high = terms_ci(terms, n_boot, seed=seed)
        n = len(terms)
        rows.append((name, mean * n, low * n, high * n))
    for name in SIMPLE:
        if name in gains and LEARNED in gains:
            mean, low, high = terms_ci(gains[LEARNED] - gains[name], n_boot, seed=seed)
            n = len(gains[name])
            rows.append((f"{LEARNED} - {name}", mean * n, low * n, high * n))
    return pd.DataFrame(rows, columns=["policy", "dr_value", "dr_low", "dr_high"])


def decide(
    table: pd.DataFrame, best_action: str, estimated: Mapping[str, float] | None = None
) -> Fallback | None:
    """The fallback, when the learned policy did not beat the best simple policy beyond the
    interval of their difference (None: it did, use it).

    The best simple policy is the one `estimated` (the model's calibrated estimates, which rest
    on every earlier campaign) values most, among those the held-out campaign does not show
    losing to no action beyond their interval; without estimates, the one the held-out campaign
    values most. One campaign's values are noisy: by them alone a run fell back to no action
    when acting on the riskiest was worth far more."""
    by = table.set_index("policy")
    simple = [p for p in SIMPLE if p in by.index]
    if LEARNED not in by.index or not simple:
        return None
    kept = [p for p in simple if p == "no_action" or by.at[p, "dr_high"] >= 0]
    if estimated is not None and all(p in estimated for p in kept):
        scores, chosen_by = {p: float(estimated[p]) for p in kept}, "the calibrated estimates"
    else:
        scores = {p: float(by.at[p, "dr_value"]) for p in kept}
        chosen_by = "the held-out campaign"
    best = max(kept, key=scores.__getitem__)  # max keeps the first on a tie: it spends least
    low = by.at[f"{LEARNED} - {best}", "dr_low"]
    if low > 0:
        return None
    ours, theirs = by.at[LEARNED, "dr_value"], by.at[best, "dr_value"]
    why = (
        f"out of time the learned policy was not better than {best.replace('_', ' ')} "
        f"(doubly robust gain {ours:,.0f} vs {theirs:,.0f}; difference interval "
        f"{low:,.0f} to {by.at[f'{LEARNED} - {best}', 'dr_high']:,.0f}); "
        f"{best.replace('_', ' ')} is the best simple policy by {chosen_by}"
    )
    return Fallback(best, best_action, why)


def ranking(
    fallback: Fallback, names: list[str], allowed: np.ndarray, risk: np.ndarray, ids: pd.Index
) -> tuple[np.ndarray, np.ndarray]:
    """(what the allocation ranks by, what is allowed) so that it chooses as the fallback does:
    no one (no_action); the best average action for the riskiest first (top risk); or for
    customers in a random order fixed by their ids (everyone)."""
    n, k = allowed.shape
    if fallback.policy == "no_action" or fallback.action not in names:
        return np.zeros((n, k)), np.zeros((n, k), dtype=bool)
    only = np.zeros((n, k), dtype=bool)
    column = names.index(fallback.action)
    only[:, column] = allowed[:, column]
    rank = np.zeros((n, k))
    if fallback.policy == "top_risk_best_average":
        rank[:, column] = np.asarray(risk, dtype=float) + 1e-9
    else:
        rank[:, column] = _uniform(ids)
    return rank, only


def _uniform(ids: pd.Index) -> np.ndarray:
    """A number in (0, 1] per id, the same wherever the id is scored (batch, Spark buckets)."""
    digests = [hashlib.sha256(str(i).encode()).digest()[:8] for i in ids]
    return np.array([(int.from_bytes(d, "big") + 1) / 2**64 for d in digests])
