"""Small measuring helpers for tests (no project logic lives here)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from scipy.stats import rankdata


def strict_json(text: str) -> Any:
    """Parse as RFC 8259 JSON: Python's json takes NaN, Infinity and -Infinity unless told."""

    def refuse(constant: str) -> None:
        raise ValueError(f"not strict JSON: bare {constant}")

    return json.loads(text, parse_constant=refuse)


def roc_auc(y: np.ndarray, score: np.ndarray) -> float:
    """Mann-Whitney ROC-AUC, ties counted half."""
    y = np.asarray(y)
    ranks = rankdata(score)
    pos = y == 1
    n_pos, n_neg = pos.sum(), (~pos).sum()
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


#: The person-periods a test's time-to-churn model learns from (`model.survival_periods`):
#: enough for its curve to follow the risk on the tests' small bases, and a fraction of the
#: default's time in each of the suite's trainings.
SMALL_SURVIVAL = 100_000
