"""Where each scored customer stands: risk band, rank in the list, and whether they are explained.

These need the whole scored base (a rank is relative to everyone else), so on Spark they run after
the per-customer part has been gathered.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

BAND_HIGH, BAND_MEDIUM = 3.0, 1.5  # multiples of the base odds of churning


def band_edges(base_rate: float) -> tuple[float, float]:
    """(high, medium) probability edges: the odds of churning at least 3x (1.5x) the base odds
    the model was trained on. Odds, not probabilities, so the edges stay below 1 at any base
    rate: at 10% churn they are 25% and 14%, at 70% they are 88% and 78%."""
    rate = min(max(float(base_rate), 1e-6), 1 - 1e-6)
    odds = rate / (1 - rate)
    high, medium = BAND_HIGH * odds, BAND_MEDIUM * odds
    return high / (1 + high), medium / (1 + medium)


def risk_bands(probability: np.ndarray, base_rate: float) -> np.ndarray:
    """'high', 'medium' or 'low' by `band_edges`."""
    high, medium = band_edges(base_rate)
    return np.where(probability >= high, "high", np.where(probability >= medium, "medium", "low"))


def ranks(probability: np.ndarray, raw: np.ndarray, ids: pd.Index) -> np.ndarray:
    """1 = most at risk. Calibration maps many scores to one probability, so ties are broken
    by the model's raw score, then by customer id: reruns give the same order. A stable
    lexsort on (-probability, -raw, id), NaN last: what sort_values does, without a frame."""
    text = ids.to_numpy(dtype=object)
    if ids.inferred_type != "string":  # features' ids are text already: no copy then
        text = text.astype(str).astype(object)
    _, id_order = np.unique(text, return_inverse=True)
    position = np.lexsort((id_order, -np.asarray(raw, dtype=float), -probability))
    rank = np.empty(len(position), dtype=np.int64)
    rank[position] = np.arange(1, len(position) + 1)
    return rank


def explain_mask(rank: np.ndarray, top_fraction: float | None) -> np.ndarray:
    """The rows ranked 1..ceil(fraction x rows) (None = all): the top of the list is exactly
    what is explained, however the probabilities tie. The count is rounded to 9 decimals
    first, so 0.07 x 100 is 7 rows, not 8 from floating-point noise."""
    n = len(rank)
    if top_fraction is None:
        return np.ones(n, dtype=bool)
    if not 0 <= top_fraction <= 1:
        raise ValueError(f"top_fraction must be in [0, 1] (got {top_fraction}); None explains all")
    return np.asarray(rank) <= math.ceil(round(top_fraction * n, 9))
