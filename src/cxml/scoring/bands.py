"""Where each scored customer stands: risk band, rank in the list, and whether they are explained.

These need the whole scored base (a rank is relative to everyone else), so on Spark they run after
the per-customer part has been gathered.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

BAND_HIGH, BAND_MEDIUM = 3.0, 1.5  # multiples of the training churn rate


def risk_bands(probability: np.ndarray, base_rate: float) -> np.ndarray:
    """'high' at 3x the average risk the model was trained on or more, 'medium' at 1.5x."""
    return np.where(
        probability >= BAND_HIGH * base_rate,
        "high",
        np.where(probability >= BAND_MEDIUM * base_rate, "medium", "low"),
    )


def ranks(probability: np.ndarray, raw: np.ndarray, ids: pd.Index) -> np.ndarray:
    """1 = most at risk. Calibration maps many scores to one probability, so ties are broken
    by the model's raw score, then by customer id: reruns give the same order. A stable
    lexsort on (-probability, -raw, id), NaN last: what sort_values does, without a frame."""
    _, id_order = np.unique(ids.astype(str).to_numpy(dtype=object), return_inverse=True)
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
