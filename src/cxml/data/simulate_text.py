"""Short free-text survey comments for the simulator, chosen by score band and by cause."""

from __future__ import annotations

import numpy as np

POSITIVE = (
    "great service, very happy",
    "love the app, works well",
    "quick and helpful support",
    "good value for money",
    "excellent experience overall",
)
NEUTRAL = ("it's okay", "does the job", "average experience", "fine, nothing special")
NEGATIVE_SUPPORT = (
    "still waiting for my issue to be fixed",
    "support never called back, terrible",
    "slow support and the problem is not resolved",
)
NEGATIVE_PRICE = (
    "too expensive for what I get",
    "the price went up again, disappointed",
    "payment problems and unfair fees",
)
NEGATIVE_GENERAL = (
    "poor service, thinking about leaving",
    "the app keeps crashing, frustrating",
    "bad experience, not happy",
)


def comments(
    score: np.ndarray,
    open_issues: np.ndarray,
    price_sensitivity: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """One comment per NPS score (0-10); about 40% of respondents leave none (None)."""
    n = len(score)
    pools = [POSITIVE, NEUTRAL, NEGATIVE_SUPPORT, NEGATIVE_PRICE, NEGATIVE_GENERAL]
    low = score <= 6
    which = np.where(score >= 9, 0, np.where(score >= 7, 1, 4))
    which = np.where(low & (open_issues > 0.5), 2, which)
    which = np.where(low & (open_issues <= 0.5) & (price_sensitivity > 0.6), 3, which)
    pick = rng.random(n)
    out = np.empty(n, dtype=object)
    for k, pool in enumerate(pools):
        rows = which == k
        out[rows] = np.asarray(pool, dtype=object)[(pick[rows] * len(pool)).astype(int)]
    out[rng.random(n) < 0.4] = None
    return out
