"""Learning from cxml's own randomised decisions: a campaign that logged every row's propensity
(the untreated's too) is weighted by it; a campaign that logged only the treated is not."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cxml.jobs.nba import randomised_propensities
from cxml.models.uplift import OffsetLearner


def rows(cutoff: str, propensity: list[float]) -> pd.DataFrame:
    ids = [f"C{i}" for i in range(len(propensity))]
    index = pd.MultiIndex.from_product([ids, [pd.Timestamp(cutoff, tz="UTC")]])
    return pd.DataFrame(
        {"propensity": propensity}, index=index.set_names(["customer_id", "cutoff"])
    )


def test_only_campaigns_that_logged_every_row_keep_their_propensities():
    both = pd.concat(
        [
            rows("2025-01-01", [0.9, 0.05, 0.05]),  # cxml's decisions: none rows logged too
            rows("2025-02-01", [np.nan, 0.2, np.nan]),  # only the treated logged
        ]
    )
    got = randomised_propensities(both)
    assert got[:3].tolist() == [0.9, 0.05, 0.05]
    assert np.isnan(got[3:]).all()


def confounded(n: int = 6000, seed: int = 0):
    """Treatment given mostly to high-x customers; a constant true uplift of 0.1."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, 2))
    p_treat = 0.1 + 0.8 * x[:, 0]
    treated = rng.random(n) < p_treat
    y = rng.random(n) < 0.3 + 0.4 * x[:, 0] + 0.1 * treated
    arms = np.where(treated, "call", "none").astype(object)
    logged = np.where(treated, p_treat, 1 - p_treat)
    return pd.DataFrame(x, columns=["a", "b"]), arms, y.astype(float), logged


def test_the_offset_learner_weights_by_logged_propensities_and_fills_the_unlogged():
    X, arms, y, logged = confounded()
    plain = OffsetLearner(control="none", seed=1).fit(X, arms, y)
    weighted = OffsetLearner(control="none", seed=1).fit(X, arms, y, logged)
    a = plain.predict_uplift(X)["call"].to_numpy()
    b = weighted.predict_uplift(X)["call"].to_numpy()
    assert not np.allclose(a, b)  # the weights reached the models
    assert abs(b.mean() - 0.1) < 0.05
    half = logged.copy()
    half[::2] = np.nan  # not logged: estimated from the rows
    filled = OffsetLearner(control="none", seed=1)._propensity(X.to_numpy(), arms, half)
    assert np.array_equal(filled[1::2], logged[1::2])
    assert ((filled > 0) & (filled <= 1)).all()
