"""Evaluation of uplift scores and of action policies on randomized or logged data.

No customer is seen both treated and untreated, so an uplift score is judged on groups: sort by
predicted uplift and compare the treated and control response among the top rows. The curves and
scores follow scikit-uplift's definitions (maks-sh/scikit-uplift, `sklift/metrics/metrics.py`),
ties included, so figures compare with published ones:

* `uplift_at_k` — treated minus control response rate among the top k of the ranking.
* `uplift_curve` / `qini_curve` — cumulative gain against the number of rows targeted.
* `uplift_auc_score` / `qini_auc_score` — area between the curve and the random diagonal, as a
  share of the same area for the perfect ranking (1 = perfect, 0 = random).

`ips_policy_value` estimates what a new policy would achieve from a log of another policy's
actions (inverse propensity scoring) with a bootstrap interval.

Pure functions: array-likes in, numbers or arrays out. No files, printing or logging.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

Curve = tuple[np.ndarray, np.ndarray]


def _binary(name: str, values: npt.ArrayLike) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1 or not np.isin(array, (0, 1)).all():
        raise ValueError(f"{name} must be a 1-D array of 0/1 values; recode it first")
    return array.astype(float)


def _inputs(
    y: npt.ArrayLike, uplift: npt.ArrayLike, treatment_flag: npt.ArrayLike
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Outcome, score and treatment flag as checked float arrays of one length."""
    y_arr, flag = _binary("y", y), _binary("treatment_flag", treatment_flag)
    score = np.asarray(uplift, dtype=float)
    if not len(y_arr) == len(score) == len(flag):
        raise ValueError(
            f"y, uplift and treatment_flag have {len(y_arr)}, {len(score)} and {len(flag)} rows: "
            "pass one score and one flag per outcome"
        )
    if not (flag == 0).any() or not (flag == 1).any():
        raise ValueError("treatment_flag needs both treated (1) and control (0) rows")
    return y_arr, score, flag


def _descending(score: np.ndarray) -> np.ndarray:
    """scikit-uplift's order: stable ascending sort, reversed (ties: later rows first)."""
    return np.argsort(score, kind="mergesort")[::-1]


def _cumulative(y: npt.ArrayLike, uplift: npt.ArrayLike, treatment_flag: npt.ArrayLike) -> Curve:
    """Counts at each distinct-score threshold: rows, treated, treated and control responders."""
    y_arr, score, flag = _inputs(y, uplift, treatment_flag)
    order = _descending(score)
    y_arr, score, flag = y_arr[order], score[order], flag[order]
    thresholds = np.r_[np.where(np.diff(score))[0], score.size - 1]
    n_all = (thresholds + 1).astype(float)
    n_treated = np.cumsum(flag)[thresholds]
    y_treated = np.cumsum(y_arr * flag)[thresholds]
    y_control = np.cumsum(y_arr * (1 - flag))[thresholds]
    return n_all, np.vstack([n_treated, y_treated, n_all - n_treated, y_control])


def _from_origin(n_all: np.ndarray, values: np.ndarray) -> Curve:
    """Prepend (0, 0) unless the curve already starts there."""
    if values[0] != 0 or n_all[0] != 0:
        return np.r_[0.0, n_all], np.r_[0.0, values]
    return n_all, values


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    out = np.zeros_like(numerator, dtype=float)
    return np.divide(numerator, denominator, out=out, where=denominator != 0)


def uplift_curve(y: npt.ArrayLike, uplift: npt.ArrayLike, treatment_flag: npt.ArrayLike) -> Curve:
    """(rows targeted, (treated rate − control rate) × rows targeted) at each score threshold."""
    n_all, (n_t, y_t, n_c, y_c) = _cumulative(y, uplift, treatment_flag)
    return _from_origin(n_all, (_ratio(y_t, n_t) - _ratio(y_c, n_c)) * n_all)


def qini_curve(y: npt.ArrayLike, uplift: npt.ArrayLike, treatment_flag: npt.ArrayLike) -> Curve:
    """(rows targeted, treated responders − control responders × n_treated / n_control)."""
    n_all, (n_t, y_t, n_c, y_c) = _cumulative(y, uplift, treatment_flag)
    return _from_origin(n_all, y_t - y_c * _ratio(n_t, n_c))


def perfect_uplift_curve(y: npt.ArrayLike, treatment_flag: npt.ArrayLike) -> Curve:
    """The uplift curve of scikit-uplift's oracle ranking (treated responders and control
    non-responders first)."""
    y_arr, flag = _binary("y", y), _binary("treatment_flag", treatment_flag)
    control_responders = np.sum((y_arr == 1) & (flag == 0))
    treated_non_responders = np.sum((y_arr == 0) & (flag == 1))
    summand = y_arr if control_responders > treated_non_responders else flag
    return uplift_curve(y_arr, 2 * (y_arr == flag) + summand, flag)


def perfect_qini_curve(
    y: npt.ArrayLike, treatment_flag: npt.ArrayLike, negative_effect: bool = True
) -> Curve:
    """The Qini curve of the oracle ranking; without negative effects, the straight bound."""
    y_arr, flag = _binary("y", y), _binary("treatment_flag", treatment_flag)
    if negative_effect:
        return qini_curve(y_arr, y_arr * flag - y_arr * (1 - flag), flag)
    treated, control = flag == 1, flag == 0
    gain = y_arr[treated].sum() - treated.sum() * y_arr[control].sum() / control.sum()
    if gain < 0:  # scikit-uplift fails here too: the bound's x would run backwards
        raise ValueError("the treated respond less than control overall: use negative_effect=True")
    return np.array([0.0, gain, len(y_arr)]), np.array([0.0, gain, gain])


def _normalised_area(actual: Curve, perfect: Curve) -> float:
    """(area(actual) − area(diagonal)) / (area(perfect) − area(diagonal))."""
    x_perfect, y_perfect = perfect
    baseline = float(np.trapezoid([0.0, y_perfect[-1]], [0.0, x_perfect[-1]]))
    best = float(np.trapezoid(y_perfect, x_perfect)) - baseline
    if best == 0:
        raise ValueError("even a perfect ranking beats random by nothing here: score undefined")
    return (float(np.trapezoid(actual[1], actual[0])) - baseline) / best


def uplift_auc_score(
    y: npt.ArrayLike,
    uplift: npt.ArrayLike,
    treatment_flag: npt.ArrayLike,
    normalize: bool = True,
) -> float:
    """AUUC. Normalised (scikit-uplift's `uplift_auc_score`): 0 = random, 1 = perfect ranking;
    raw (`normalize=False`): the area under `uplift_curve` in (rows × rate) units."""
    actual = uplift_curve(y, uplift, treatment_flag)
    if not normalize:
        return float(np.trapezoid(actual[1], actual[0]))
    return _normalised_area(actual, perfect_uplift_curve(y, treatment_flag))


def qini_auc_score(
    y: npt.ArrayLike,
    uplift: npt.ArrayLike,
    treatment_flag: npt.ArrayLike,
    negative_effect: bool = True,
    normalize: bool = True,
) -> float:
    """Qini coefficient. Normalised as scikit-uplift's `qini_auc_score` (0 = random, 1 = perfect);
    raw (`normalize=False`): the area under `qini_curve`."""
    actual = qini_curve(y, uplift, treatment_flag)
    if not normalize:
        return float(np.trapezoid(actual[1], actual[0]))
    return _normalised_area(actual, perfect_qini_curve(y, treatment_flag, negative_effect))


def _top_count(k: float, n: int) -> int:
    """Rows in the top k: a share in (0, 1) (rounded down, as scikit-uplift) or a count."""
    if isinstance(k, bool) or not isinstance(k, int | float | np.integer | np.floating):
        raise ValueError(f"k must be a share in (0, 1) or a row count, got {k!r}")
    if isinstance(k, int | np.integer):
        if not 0 < k < n:
            raise ValueError(f"k={k} rows must be between 1 and {n - 1} (the sample has {n} rows)")
        return int(k)
    if not 0 < k < 1:
        raise ValueError(f"k={k} must be a share strictly between 0 and 1")
    return int(n * k)


def _rate(values: np.ndarray, group: str, k: float) -> float:
    if values.size == 0:
        raise ValueError(f"no {group} rows among the top k={k}: increase k or check the flags")
    return float(values.mean())


def uplift_at_k(
    y: npt.ArrayLike,
    uplift: npt.ArrayLike,
    treatment_flag: npt.ArrayLike,
    k: float = 0.3,
    strategy: Literal["overall", "by_group"] = "overall",
) -> float:
    """Treated minus control response rate among the top k by predicted uplift.

    'overall' (scikit-uplift's default for published figures): the top k of all rows, then the
    two rates within it. 'by_group': the top k of each group separately.
    """
    y_arr, score, flag = _inputs(y, uplift, treatment_flag)
    order = _descending(score)
    y_sorted, flag_sorted = y_arr[order], flag[order]
    if strategy == "overall":
        top = _top_count(k, len(y_arr))
        treated = y_sorted[:top][flag_sorted[:top] == 1]
        control = y_sorted[:top][flag_sorted[:top] == 0]
    elif strategy == "by_group":
        treated_all, control_all = y_sorted[flag_sorted == 1], y_sorted[flag_sorted == 0]
        treated = treated_all[: _top_count(k, len(treated_all))]
        control = control_all[: _top_count(k, len(control_all))]
    else:
        raise ValueError(f"strategy must be 'overall' or 'by_group', got {strategy!r}")
    return _rate(treated, "treated", k) - _rate(control, "control", k)


def ips_policy_value(
    y: npt.ArrayLike,
    logged: npt.ArrayLike,
    target: npt.ArrayLike,
    propensity: npt.ArrayLike,
    n_boot: int = 1000,
    seed: int = 0,
) -> tuple[float, float, float]:
    """(estimate, 2.5% bound, 97.5% bound) of the mean outcome had `target` chosen the actions.

    Inverse propensity scoring: rows where the logged action matches the target's count with
    weight 1/propensity, so the estimate is unbiased whenever the logging policy gave every
    target action a chance. The interval is a percentile bootstrap over rows.
    """
    y_arr = np.asarray(y, dtype=float)
    logged_arr, target_arr = np.asarray(logged), np.asarray(target)
    p = np.asarray(propensity, dtype=float)
    if not len(y_arr) == len(logged_arr) == len(target_arr) == len(p) > 0:
        raise ValueError("y, logged, target and propensity must be non-empty and of one length")
    if not ((p > 0) & (p <= 1)).all():
        raise ValueError("propensity must be in (0, 1]: the logged chance of the logged action")
    contribution = np.where(logged_arr == target_arr, y_arr / p, 0.0)
    rng = np.random.default_rng(seed)
    n = len(contribution)
    boot = np.empty(n_boot)
    for start in range(0, n_boot, 100):
        stop = min(start + 100, n_boot)
        boot[start:stop] = contribution[rng.integers(0, n, (stop - start, n))].mean(axis=1)
    low, high = np.percentile(boot, [2.5, 97.5])
    return float(contribution.mean()), float(low), float(high)
