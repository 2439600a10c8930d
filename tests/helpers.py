"""Small measuring helpers for tests (no project logic lives here)."""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata


def roc_auc(y: np.ndarray, score: np.ndarray) -> float:
    """Mann-Whitney ROC-AUC, ties counted half."""
    y = np.asarray(y)
    ranks = rankdata(score)
    pos = y == 1
    n_pos, n_neg = pos.sum(), (~pos).sum()
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
