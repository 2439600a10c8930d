"""The shipped model: the logistic candidate explains itself exactly and never takes a
coefficient against a feature's direction; the best-ranking candidate is shipped (the simpler
on a tie); calibration is chosen by cross-validated log-loss."""

from __future__ import annotations

import numpy as np
import pytest

from cxml.models.choice import LinearRisk, best_calibration, choose_kind


def _data(n: int = 4000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    tickets = rng.poisson(1.0, n).astype(float)
    spend = rng.gamma(2.0, 50.0, n)
    spend[rng.random(n) < 0.1] = np.nan  # gaps: filled and flagged
    plan = rng.integers(0, 3, n).astype(float)  # a categorical code
    odds = -2 + 0.6 * tickets - 0.004 * np.nan_to_num(spend, nan=100) + 0.5 * (plan == 2)
    y = (rng.random(n) < 1 / (1 + np.exp(-odds))).astype(int)
    return np.column_stack([tickets, spend, plan]), y


COLUMNS = ["n_ticket", "spend", "plan"]


def test_the_design_fills_gaps_with_the_median_flags_them_and_one_hots_levels():
    matrix, y = _data()
    model = LinearRisk(COLUMNS, categorical=[2]).fit(matrix, y)
    spend_median = float(np.median(np.log1p(matrix[~np.isnan(matrix[:, 1]), 1])))
    rows = np.array(
        [
            [2.0, 99.0, 1.0],  # counts and amounts on the log1p scale; plan 1
            [0.0, np.nan, 2.0],  # a gap: the median, flagged; plan 2
            [1.0, 5.0, 7.0],  # a plan never seen in training: no indicator
        ]
    )
    # design columns: n_ticket, spend, spend's gap flag, plan 0, plan 1, plan 2
    expected = [
        [np.log1p(2.0), np.log1p(99.0), 0, 0, 1, 0],
        [0.0, spend_median, 1, 0, 0, 1],
        [np.log1p(1.0), np.log1p(5.0), 0, 0, 0, 0],
    ]
    np.testing.assert_allclose(model._design(rows), expected, rtol=1e-12)


def test_contributions_add_up_to_the_log_odds_and_name_each_column():
    matrix, y = _data()
    model = LinearRisk(COLUMNS, categorical=[2]).fit(matrix, y)
    contrib = model.contributions(matrix[:50])
    np.testing.assert_allclose(contrib.sum(axis=1), model.log_odds(matrix[:50]), atol=1e-9)
    assert contrib.shape == (50, len(COLUMNS) + 1)
    order = np.argsort(matrix[:50, 0], kind="stable")
    assert np.all(np.diff(contrib[order, 0]) >= -1e-12)  # more tickets, more risk
    assert contrib[order[-1], 0] > contrib[order[0], 0]


def test_log_odds_are_the_same_bits_alone_in_a_call_and_across_blocks(monkeypatch):
    """A customer scores the same alone, coalesced with others or in a batch of many blocks:
    each row is added up intercept first, then column by column, whatever the rows around it."""
    matrix, y = _data()
    model = LinearRisk(COLUMNS, categorical=[2]).fit(matrix, y)
    design = model._design(matrix)
    by_column = np.full(len(design), model.intercept_)
    for k, weight in enumerate(model.coef_):
        by_column += design[:, k] * weight
    monkeypatch.setattr("cxml.models.choice.LOG_ODDS_BLOCK", 333)  # many blocks, one ragged
    assert np.array_equal(model.log_odds(matrix), by_column)
    alone = np.array([model.log_odds(matrix[i : i + 1])[0] for i in range(0, len(matrix), 97)])
    assert np.array_equal(alone, by_column[::97])


def test_a_coefficient_against_a_features_direction_drops_that_feature():
    matrix, y = _data()
    against = LinearRisk(COLUMNS, [2], directions={"spend": +1}).fit(matrix, y)  # spend lowers
    assert 1 not in against.kept_
    assert np.allclose(against.contributions(matrix[:20])[:, 1], 0.0)
    along = LinearRisk(COLUMNS, [2], directions={"n_ticket": +1}).fit(matrix, y)
    assert along.kept_ == [0, 1, 2]
    only = LinearRisk(COLUMNS, [2], use=["n_ticket"]).fit(matrix, y)
    assert only.kept_ == [0]


def test_a_more_complex_kind_is_shipped_only_when_clearly_better():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 3000)
    signal = y + rng.normal(0, 1.0, len(y))
    noise = rng.normal(0, 1.0, len(y))
    close = {"logistic": signal, "blend": signal + 0.05 * noise, "boosted": signal + 0.02 * noise}
    kind, aucs = choose_kind(y, close)
    assert kind == "logistic" and set(aucs) == set(close)  # the others are not clearly better
    clearly = {"logistic": signal + 2 * noise, "blend": signal + noise, "boosted": signal}
    assert choose_kind(y, clearly)[0] == "boosted"
    assert choose_kind(y, clearly, "blend")[0] == "blend"  # configured: no choice
    assert choose_kind(np.ones(10, dtype=int), {"logistic": np.ones(10)})[0] == "boosted"


@pytest.mark.parametrize("seed", [0, 1])
def test_calibration_leaves_a_shifted_score_alone_never(seed):
    rng = np.random.default_rng(seed)
    p = rng.beta(2, 5, 5000)
    y = (rng.random(len(p)) < p).astype(int)
    assert best_calibration(p / 3, y, seed) != "none"  # a third of the real risk: recalibrate
