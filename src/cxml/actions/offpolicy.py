"""Off-policy evaluation: what a new policy would have earned, judged from the logged actions.

Both estimators are means of per-row terms, so a bootstrap only has to resample those terms:
- IPS: 1[target = logged] · reward / propensity (unbiased when the propensities are right);
- doubly robust (DR): q̂(x, target) + 1[target = logged] · (reward − q̂(x, target)) / propensity,
  unbiased when either the propensities or the reward model q̂ are right, and with less variance
  than IPS when q̂ is good.
Propensity = the probability the logging policy gave the logged action to that customer.
A target policy is one action per row, one action for all, or a stochastic policy: a rows ×
actions frame of probabilities (then 1[target = logged] becomes the target's probability of the
logged action, and q̂(x, target) the target-weighted mean of q̂ over the actions).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeAlias

import numpy as np
import pandas as pd

ArrayLike: TypeAlias = np.ndarray | pd.Series | Sequence[Any]
#: One action per row, one action for everyone, or per row a probability for each action.
Targets: TypeAlias = ArrayLike | str | pd.DataFrame

_CHUNK = 4_000_000  # bootstrap draws per block: bounded memory for any n_boot × rows


def _checked(
    rewards: ArrayLike, logged_actions: ArrayLike, propensities: ArrayLike, target_actions: Targets
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | pd.DataFrame]:
    """The inputs as aligned arrays, or a ValueError saying what is wrong."""
    reward = np.asarray(rewards, dtype=float)
    logged = np.asarray(logged_actions, dtype=object)
    prop = np.asarray(propensities, dtype=float)
    n = len(reward)
    target: np.ndarray | pd.DataFrame
    if isinstance(target_actions, str):
        target = np.full(n, target_actions, dtype=object)
    elif isinstance(target_actions, pd.DataFrame):
        target = target_actions
        probs = target.to_numpy(dtype=float)
        if not (np.all(probs >= 0) and np.allclose(probs.sum(axis=1), 1.0)):
            raise ValueError(
                "a stochastic target policy needs probabilities >= 0 that sum to 1 on every row"
            )
    else:
        target = np.asarray(target_actions, dtype=object)
    sizes = {"rewards": n, "logged_actions": len(logged), "propensities": len(prop)}
    sizes["target_actions"] = len(target)
    if len(set(sizes.values())) != 1 or reward.ndim != 1:
        raise ValueError(f"Inputs must be 1-D and of one length, got lengths {sizes}.")
    if n == 0:
        raise ValueError("No logged rows: off-policy value needs at least one.")
    if not np.all(np.isfinite(reward)):
        raise ValueError("rewards contain NaN or infinity; drop or fill those rows first.")
    bad = ~((prop > 0) & (prop <= 1))  # NaN fails too
    if bad.any():
        raise ValueError(
            f"{int(bad.sum())} propensities lie outside (0, 1] (e.g. {prop[bad][:3].tolist()}): "
            "each must be the probability the logging policy gave the logged action; a 0 means "
            "the action could not have been logged, so fix the log or clip with care."
        )
    return reward, logged, prop, target


def _weight(logged: np.ndarray, target: np.ndarray | pd.DataFrame) -> np.ndarray:
    """Per row, the target policy's probability of the logged action (0 or 1 when it is
    deterministic)."""
    if isinstance(target, pd.DataFrame):
        where = pd.Index([str(c) for c in target.columns]).get_indexer(logged.astype(str))
        probs = target.to_numpy(dtype=float)
        found = probs[np.arange(len(logged)), np.maximum(where, 0)]
        return np.where(where >= 0, found, 0.0)
    return (logged == target).astype(float)


def ips_terms(
    rewards: ArrayLike, logged_actions: ArrayLike, propensities: ArrayLike, target_actions: Targets
) -> np.ndarray:
    """Per-row IPS terms π(logged) · reward / propensity (π(logged) = 1[target = logged] for a
    deterministic target); their mean is the estimate."""
    reward, logged, prop, target = _checked(rewards, logged_actions, propensities, target_actions)
    return _weight(logged, target) * reward / prop


def ips_value(
    rewards: ArrayLike, logged_actions: ArrayLike, propensities: ArrayLike, target_actions: Targets
) -> float:
    """Inverse-propensity estimate of the mean reward had `target_actions` been taken."""
    return float(ips_terms(rewards, logged_actions, propensities, target_actions).mean())


def _predicted_for(
    predicted: pd.DataFrame | np.ndarray, target: np.ndarray, actions: Sequence[str] | None
) -> np.ndarray:
    """q̂(x_i, target_i) for each row, read from a rows × actions table."""
    if isinstance(predicted, pd.DataFrame):
        table, names = predicted.to_numpy(dtype=float), [str(c) for c in predicted.columns]
    elif actions is None:
        raise ValueError("predicted is an array: pass actions=[...] naming its columns.")
    else:
        table, names = np.asarray(predicted, dtype=float), list(actions)
    if table.ndim != 2 or table.shape != (len(target), len(names)):
        raise ValueError(
            f"predicted must be rows × actions = ({len(target)}, {len(names)}), got {table.shape}."
        )
    where = pd.Index(names).get_indexer(target.astype(str))
    if (where < 0).any():
        unknown = sorted(set(target[where < 0].astype(str)))[:5]
        raise ValueError(f"predicted has no column for target actions {unknown}; add them.")
    return table[np.arange(len(target)), where]


def dr_terms(
    rewards: ArrayLike,
    logged_actions: ArrayLike,
    propensities: ArrayLike,
    target_actions: Targets,
    predicted: pd.DataFrame | np.ndarray,
    actions: Sequence[str] | None = None,
) -> np.ndarray:
    """Per-row doubly robust terms; their mean is the estimate.

    `predicted` holds the reward model's prediction per row and action (columns = action names,
    the control included; for an array, `actions` names the columns).
    """
    reward, logged, prop, target = _checked(rewards, logged_actions, propensities, target_actions)
    if not isinstance(target, pd.DataFrame):  # only rows where target = logged are weighted
        q = _predicted_for(predicted, target, actions)
        return q + _weight(logged, target) * (reward - q) / prop
    names = [str(c) for c in target.columns]
    table = np.column_stack(
        [_predicted_for(predicted, np.full(len(logged), a, dtype=object), actions) for a in names]
    )
    q = (target.to_numpy(dtype=float) * table).sum(axis=1)
    where = pd.Index(names).get_indexer(logged.astype(str))  # -1: weight 0, any q will do
    at_logged = table[np.arange(len(logged)), np.maximum(where, 0)]
    return q + _weight(logged, target) * (reward - at_logged) / prop


def dr_value(
    rewards: ArrayLike,
    logged_actions: ArrayLike,
    propensities: ArrayLike,
    target_actions: Targets,
    predicted: pd.DataFrame | np.ndarray,
    actions: Sequence[str] | None = None,
) -> float:
    """Doubly robust estimate: the model's prediction plus the IPS-weighted residual on matches."""
    terms = dr_terms(rewards, logged_actions, propensities, target_actions, predicted, actions)
    return float(terms.mean())


_TERMS: dict[Callable[..., float], Callable[..., np.ndarray]] = {
    ips_value: ips_terms,
    dr_value: dr_terms,
}


def _bootstrap_means(terms: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Means of `n_boot` resamples (with replacement) of the rows, in memory-bounded blocks."""
    n, out = len(terms), np.empty(n_boot)
    per_block = max(1, _CHUNK // max(n, 1))
    for start in range(0, n_boot, per_block):
        size = min(per_block, n_boot - start)
        out[start : start + size] = terms[rng.integers(0, n, size=(size, n), dtype=np.int32)].mean(
            axis=1
        )
    return out


def terms_ci(
    terms: np.ndarray, n_boot: int = 500, alpha: float = 0.05, seed: int = 0
) -> tuple[float, float, float]:
    """(mean, low, high) of per-row terms, the interval a percentile bootstrap over rows: e.g.
    the difference of two policies' IPS or DR terms on the same rows (a paired comparison)."""
    draws = _bootstrap_means(np.asarray(terms, dtype=float), n_boot, np.random.default_rng(seed))
    low, high = np.quantile(draws, [alpha / 2, 1 - alpha / 2])
    return float(np.mean(terms)), float(low), float(high)


def bootstrap_ci(
    estimator: Callable[..., float],
    *arrays: Any,
    n_boot: int = 500,
    alpha: float = 0.05,
    seed: int = 0,
    **kwargs: Any,
) -> tuple[float, float, float]:
    """(estimate, low, high): the estimate and a percentile bootstrap interval over rows.

    For `ips_value` and `dr_value` the per-row terms are computed once and only their mean is
    resampled (fast at 100k rows). Any other estimator is called on resampled rows of every
    1-D array argument (and of frames / 2-D arrays row-wise), which is slower.
    """
    if n_boot < 2 or not 0 < alpha < 1:
        raise ValueError(f"Need n_boot >= 2 and 0 < alpha < 1, got {n_boot} and {alpha}.")
    rng = np.random.default_rng(seed)
    terms_of = _TERMS.get(estimator)
    if terms_of is not None:
        terms = terms_of(*arrays, **kwargs)
        estimate, draws = float(terms.mean()), _bootstrap_means(terms, n_boot, rng)
    else:
        estimate = float(estimator(*arrays, **kwargs))
        draws = _generic_draws(estimator, arrays, kwargs, n_boot, rng)
    low, high = np.quantile(draws, [alpha / 2, 1 - alpha / 2])
    return estimate, float(low), float(high)


def _take(arg: Any, rows: np.ndarray) -> Any:
    if isinstance(arg, str):
        return arg
    if isinstance(arg, pd.DataFrame | pd.Series):
        return arg.iloc[rows]
    return np.asarray(arg)[rows]


def _generic_draws(
    estimator: Callable[..., float],
    arrays: tuple[Any, ...],
    kwargs: dict[str, Any],
    n_boot: int,
    rng: np.random.Generator,
) -> np.ndarray:
    first = next((a for a in arrays if not isinstance(a, str)), None)
    if first is None:
        raise ValueError("bootstrap_ci needs at least one array of rows to resample.")
    n = len(first)
    draws = np.empty(n_boot)
    for b in range(n_boot):
        rows = rng.integers(0, n, size=n)
        draws[b] = estimator(*(_take(a, rows) for a in arrays), **kwargs)
    return draws


def policy_value_report(
    rewards: ArrayLike,
    logged_actions: ArrayLike,
    propensities: ArrayLike,
    policies: Mapping[str, Targets],
    predicted: pd.DataFrame | np.ndarray | None = None,
    actions: Sequence[str] | None = None,
    n_boot: int = 500,
    alpha: float = 0.05,
    seed: int = 0,
) -> pd.DataFrame:
    """Estimate and interval per policy and estimator (IPS; DR too when `predicted` is given).

    `matched` = how many logged rows agree with the policy: the support its estimate rests on.
    """
    rows = []
    for name, target in policies.items():
        matched = int(
            (np.asarray(logged_actions, dtype=object) == _as_targets(target, rewards)).sum()
        )
        args = (rewards, logged_actions, propensities, target)
        est = bootstrap_ci(ips_value, *args, n_boot=n_boot, alpha=alpha, seed=seed)
        rows.append((name, "ips", *est, matched))
        if predicted is not None:
            est = bootstrap_ci(
                dr_value, *args, predicted, actions, n_boot=n_boot, alpha=alpha, seed=seed
            )
            rows.append((name, "dr", *est, matched))
    columns = ["policy", "estimator", "estimate", "low", "high", "matched"]
    return pd.DataFrame(rows, columns=columns)


def _as_targets(target: Targets, rewards: ArrayLike) -> np.ndarray:
    if isinstance(target, pd.DataFrame):  # a stochastic policy: its most likely action
        return target.idxmax(axis=1).to_numpy(dtype=object)
    if isinstance(target, str):
        return np.full(len(np.asarray(rewards)), target, dtype=object)
    return np.asarray(target, dtype=object)
