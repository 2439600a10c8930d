"""Honest evaluation of binary probability predictions for retention models.

A churn model is trained on the past and used on the future, so it is judged out of time: fit
on earlier cutoffs, score a later one, then compare the probabilities `p` with what happened `y`.
Ranking alone (ROC AUC) is not enough for a retention team. They contact the top of the list, so
they need lift and capture at the share they can afford, and they budget from the probabilities
themselves, so those must be calibrated (ECE, reliability table). Segment breakdowns show where
the model is weak; small segments get no AUC or ECE rather than a noisy number. A claim that one
score ranks better than another (the model against a simple baseline) comes with a paired
bootstrap interval of the AUC difference and a verdict read from it.

Pure functions: array-likes in, numbers or frames out (`cxml.report.figures` draws them).
No files, printing or logging.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

MISSING_SEGMENT = "(missing)"

Verdict = Literal["ahead", "tie", "below"]


def _as_arrays(
    y: npt.ArrayLike, p: npt.ArrayLike, probabilities: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Outcomes and probabilities as float arrays, after checking they can be evaluated.

    `probabilities=False`: p may be any finite score (for ranking metrics such as the AUC)."""
    y_arr = np.asarray(y, dtype=float)
    p_arr = np.asarray(p, dtype=float)
    if y_arr.ndim != 1 or p_arr.ndim != 1:
        raise ValueError(f"y and p must be 1-D, got shapes {y_arr.shape} and {p_arr.shape}")
    if len(y_arr) != len(p_arr):
        raise ValueError(
            f"y has {len(y_arr)} rows but p has {len(p_arr)}: pass one prediction per outcome"
        )
    if len(y_arr) == 0:
        raise ValueError("y and p are empty: evaluate at least one prediction")
    if not probabilities and not np.isfinite(p_arr).all():
        bad = p_arr[~np.isfinite(p_arr)]
        raise ValueError(f"p has {len(bad)} values that are not finite (e.g. {bad[0]})")
    if probabilities and not (np.isfinite(p_arr) & (p_arr >= 0) & (p_arr <= 1)).all():
        bad = p_arr[~(np.isfinite(p_arr) & (p_arr >= 0) & (p_arr <= 1))]
        raise ValueError(
            f"p has {len(bad)} values outside [0, 1] or not finite (e.g. {bad[0]}): "
            "pass probabilities, not scores or logits"
        )
    if not np.isin(y_arr, (0.0, 1.0)).all():
        bad = y_arr[~np.isin(y_arr, (0.0, 1.0))]
        raise ValueError(
            f"y has {len(bad)} values other than 0 and 1 (e.g. {bad[0]}): pass binary outcomes"
        )
    return y_arr, p_arr


def _check_count(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")


def _check_fraction(fraction: float) -> None:
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction!r}: e.g. 0.1 for the top 10%")


def _single_class(y: np.ndarray) -> bool:
    return bool(y.min() == y.max())


def _ranking(p: np.ndarray) -> np.ndarray:
    """Positions from highest to lowest probability; ties keep their original order."""
    return np.argsort(-p, kind="stable")


def _top_count(fraction: float, n: int) -> int:
    """ceil(fraction * n), robust to float noise such as 0.1 * 30 = 3.0000000000000004."""
    return max(1, math.ceil(round(fraction * n, 9)))


def bin_of(p: np.ndarray, bins: int) -> np.ndarray:
    """Equal-width bin index on [0, 1]; p == 1.0 goes in the last bin.

    Rounding before the floor keeps edges where written: 0.29 * 100 = 28.999999999999996 is bin 29.
    """
    return np.minimum(np.floor(np.round(p * bins, 9)).astype(int), bins - 1)


def reliability_table(y: npt.ArrayLike, p: npt.ArrayLike, bins: int = 10) -> pd.DataFrame:
    """One row per non-empty equal-width bin: mean predicted probability vs observed rate."""
    y_arr, p_arr = _as_arrays(y, p)
    _check_count("bins", bins)
    which = bin_of(p_arr, bins)
    counts = np.bincount(which, minlength=bins)
    used = np.flatnonzero(counts)
    sum_p = np.bincount(which, weights=p_arr, minlength=bins)
    sum_y = np.bincount(which, weights=y_arr, minlength=bins)
    return pd.DataFrame(
        {
            "bin_low": used / bins,
            "bin_high": (used + 1) / bins,
            "n": counts[used],
            "mean_predicted": sum_p[used] / counts[used],
            "observed_rate": sum_y[used] / counts[used],
        }
    )


def expected_calibration_error(y: npt.ArrayLike, p: npt.ArrayLike, bins: int = 10) -> float:
    """Sum over non-empty equal-width bins of (bin share) * |observed rate - mean predicted|."""
    table = reliability_table(y, p, bins)
    gap = (table["observed_rate"] - table["mean_predicted"]).abs()
    return float((table["n"] / table["n"].sum() * gap).sum())


def gains_table(y: npt.ArrayLike, p: npt.ArrayLike, points: int = 20) -> pd.DataFrame:
    """Cumulative gains when contacting customers from the highest p down.

    Rows for fraction = 1/points, ..., 1; `customers` = ceil(fraction * n). `lift` is precision
    over the base rate, which equals capture / fraction whenever fraction * n is whole. Capture
    and lift are nan when y has no positives.
    """
    y_arr, p_arr = _as_arrays(y, p)
    _check_count("points", points)
    n = len(y_arr)
    fractions = np.arange(1, points + 1) / points
    customers = np.array([_top_count(f, n) for f in fractions])
    captured = np.cumsum(y_arr[_ranking(p_arr)])[customers - 1]
    positives = y_arr.sum()
    capture = captured / positives if positives > 0 else np.full(points, np.nan)
    return pd.DataFrame(
        {
            "fraction": fractions,
            "customers": customers,
            "positives_captured": captured.astype(int),
            "capture": capture,
            "lift": capture * n / customers,
            "precision": captured / customers,
        }
    )


def lift_at(y: npt.ArrayLike, p: npt.ArrayLike, fraction: float) -> tuple[float, float]:
    """(lift, capture) among the top ceil(fraction * n) customers by p; nan if no positives."""
    y_arr, p_arr = _as_arrays(y, p)
    _check_fraction(fraction)
    n = len(y_arr)
    k = _top_count(fraction, n)
    positives = y_arr.sum()
    if positives == 0:
        return math.nan, math.nan
    capture = float(y_arr[_ranking(p_arr)[:k]].sum() / positives)
    return capture * n / k, capture


def _roc_auc(y: np.ndarray, p: np.ndarray) -> float:
    return math.nan if _single_class(y) else float(roc_auc_score(y.astype(int), p))


def binary_metrics(
    y: npt.ArrayLike, p: npt.ArrayLike, top: Sequence[float] = (0.05, 0.1, 0.2)
) -> dict[str, float]:
    """Size, base rate, ranking (ROC/PR AUC), calibration (Brier, ECE) and lift at `top` shares.

    ROC AUC and PR AUC are nan when y has a single class; lift and capture when it has no positives.
    """
    y_arr, p_arr = _as_arrays(y, p)
    for fraction in top:
        _check_fraction(fraction)
    single = _single_class(y_arr)
    metrics: dict[str, float] = {
        "n": len(y_arr),
        "positives": int(y_arr.sum()),
        "base_rate": float(y_arr.mean()),
        "roc_auc": _roc_auc(y_arr, p_arr),
        "pr_auc": math.nan if single else float(average_precision_score(y_arr.astype(int), p_arr)),
        "brier": float(np.mean((p_arr - y_arr) ** 2)),
        "ece": expected_calibration_error(y_arr, p_arr),
    }
    for fraction in top:
        percent = round(fraction * 100)
        metrics[f"lift_top{percent}"], metrics[f"capture_top{percent}"] = lift_at(
            y_arr, p_arr, fraction
        )
    return metrics


def _segment_labels(segments: pd.Series | np.ndarray, n: int) -> np.ndarray:
    """Segment values by position as objects, missing ones replaced by MISSING_SEGMENT."""
    labels = np.array(segments, dtype=object)
    if labels.ndim != 1 or len(labels) != n:
        raise ValueError(
            f"segments has shape {labels.shape} but y has {n} rows: pass one segment per row"
        )
    labels[pd.isna(labels)] = MISSING_SEGMENT
    return labels


def metrics_by_segment(
    y: npt.ArrayLike,
    p: npt.ArrayLike,
    segments: pd.Series | np.ndarray,
    min_rows: int = 50,
) -> pd.DataFrame:
    """n, base rate, mean predicted, ROC AUC and ECE for each segment value.

    Segments are matched to y and p by position (a Series index is ignored); missing values form
    the "(missing)" segment. Segments with fewer than `min_rows` rows are kept, but their roc_auc
    and ece are nan because they would be noise; roc_auc is also nan for a single-class segment.
    """
    y_arr, p_arr = _as_arrays(y, p)
    codes, values = pd.factorize(_segment_labels(segments, len(y_arr)))
    rows = []
    for code in range(len(values)):
        ys, ps = y_arr[codes == code], p_arr[codes == code]
        big_enough = len(ys) >= min_rows
        rows.append(
            {
                "n": len(ys),
                "base_rate": float(ys.mean()),
                "mean_predicted": float(ps.mean()),
                "roc_auc": _roc_auc(ys, ps) if big_enough else math.nan,
                "ece": expected_calibration_error(ys, ps) if big_enough else math.nan,
            }
        )
    table = pd.DataFrame(rows, index=pd.Index(values, name="segment", dtype=object))
    try:
        return table.sort_index()
    except TypeError:  # mixed value types, e.g. numbers and "(missing)"
        return table.sort_index(key=lambda index: index.map(str))


def auc_difference(
    y: npt.ArrayLike,
    p_a: npt.ArrayLike,
    p_b: npt.ArrayLike,
    n_boot: int = 1000,
    seed: int = 0,
    groups: npt.ArrayLike | None = None,
    strata: npt.ArrayLike | None = None,
) -> tuple[float, float, float]:
    """ROC AUC of `p_a` minus that of `p_b` on the same rows, with a 95% paired bootstrap interval.

    Returns (difference, low, high): the difference on all rows, and the 2.5th and 97.5th
    percentiles of the difference over `n_boot` resamples. Each resample draws rows with
    replacement and scores both on the same draw, so what the two share cancels out; a resample
    with one class only is skipped. `groups` (one label per row, e.g. the customer id when a
    customer is judged at several cutoffs) draws whole groups instead of rows, so that rows
    which are not independent stay together. `strata` (one label per row, e.g. the cutoff)
    takes the AUC within each stratum and their mean weighted by rows (`stratified_auc`): a
    list is ranked within one scoring run, never across runs. The scores only need to rank:
    they need not be probabilities. Seeded: the same inputs give the same interval.
    """
    y_arr, a = _as_arrays(y, p_a, probabilities=False)
    _, b = _as_arrays(y_arr, p_b, probabilities=False)
    _check_count("n_boot", n_boot)
    if _single_class(y_arr):
        raise ValueError("y has a single class: the AUC is undefined, so is their difference")
    masks = _strata_masks(strata, len(y_arr))
    difference = stratified_auc(y_arr, a, strata) - stratified_auc(y_arr, b, strata)
    ties_a, ties_b = _tie_groups(a), _tie_groups(b)
    diffs = []
    for weight in _resample_weights(len(y_arr), groups, n_boot, seed):
        parts = []
        for mask in masks:
            positive, negative = weight * y_arr * mask, weight * (1 - y_arr) * mask
            if positive.sum() == 0 or negative.sum() == 0:
                break
            gap = _counted_auc(ties_a, positive, negative) - _counted_auc(
                ties_b, positive, negative
            )
            parts.append((gap, (weight * mask).sum()))
        else:
            gaps, sizes = np.array(parts).T
            diffs.append(float((gaps * sizes).sum() / sizes.sum()))
    if not diffs:
        raise ValueError(f"all {n_boot} resamples had one class only: too few of one class")
    low, high = np.percentile(diffs, [2.5, 97.5])
    return float(difference), float(low), float(high)


def stratified_auc(y: npt.ArrayLike, p: npt.ArrayLike, strata: npt.ArrayLike | None) -> float:
    """ROC AUC within each stratum, their mean weighted by rows (the plain AUC without strata)."""
    y_arr, p_arr = _as_arrays(y, p, probabilities=False)
    masks = _strata_masks(strata, len(y_arr))
    sizes = np.array([mask.sum() for mask in masks], dtype=float)
    aucs = np.array([_roc_auc(y_arr[mask], p_arr[mask]) for mask in masks])
    return float((aucs * sizes).sum() / sizes.sum())


def _strata_masks(strata: npt.ArrayLike | None, n: int) -> list[np.ndarray]:
    if strata is None:
        return [np.ones(n, dtype=bool)]
    labels = pd.factorize(np.asarray(strata, dtype=object), use_na_sentinel=False)[0]
    if len(labels) != n:
        raise ValueError(f"strata has {len(labels)} labels but y has {n} rows: one per row")
    return [labels == k for k in range(labels.max() + 1)]


def _resample_weights(
    n: int, groups: npt.ArrayLike | None, n_boot: int, seed: int
) -> Iterator[np.ndarray]:
    """How many times each row is drawn, per resample: as many groups as there are, drawn with
    replacement, each bringing all its rows (without `groups`, each row is its own group)."""
    if groups is None:
        codes = np.arange(n)
    else:
        labels = np.asarray(groups, dtype=object)
        if labels.ndim != 1 or len(labels) != n:
            raise ValueError(f"groups has shape {labels.shape} but y has {n} rows: one per row")
        codes = pd.factorize(labels, use_na_sentinel=False)[0]
    count = int(codes.max()) + 1
    rng = np.random.default_rng(seed)
    for _ in range(n_boot):
        drawn = np.bincount(rng.integers(0, count, count), minlength=count)
        yield drawn[codes].astype(float)


def _tie_groups(p: np.ndarray) -> np.ndarray:
    """Per row, the rank of its value among the distinct values of p (equal values share one)."""
    order = np.argsort(p, kind="stable")
    ordered = p[order]
    ranks = np.empty(len(p), dtype=np.int64)
    ranks[order] = np.cumsum(np.r_[True, ordered[1:] != ordered[:-1]]) - 1
    return ranks


def _counted_auc(ties: np.ndarray, positive: np.ndarray, negative: np.ndarray) -> float:
    """ROC AUC with each row counted `positive` times as a positive and `negative` times as a
    negative (a bootstrap draw): the share of (positive, negative) pairs ranked right, ties
    counting half. Equal to roc_auc_score on the drawn rows, without sorting them again."""
    pos = np.bincount(ties, weights=positive)
    neg = np.bincount(ties, weights=negative)
    below = np.cumsum(neg) - neg
    return float((pos * (below + neg / 2)).sum() / (pos.sum() * neg.sum()))


def verdict(low: float, high: float) -> Verdict:
    """What an interval of a difference (a minus b) says: "ahead" when it lies wholly above 0,
    "below" when wholly below, else "tie" (the data cannot tell the two apart)."""
    if not (math.isfinite(low) and math.isfinite(high)) or low > high:
        raise ValueError(f"need a finite interval with low <= high, got ({low!r}, {high!r})")
    if low > 0:
        return "ahead"
    if high < 0:
        return "below"
    return "tie"
