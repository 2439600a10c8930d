"""Time to churn: the churn times from the events, person-periods with censoring, the hazard
model's curve, and what is read off it."""

from __future__ import annotations

import pickle
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from cxml.actions.recommend import customer_values
from cxml.config import Action, ActionsConfig, CustomerValue, LabelConfig, ModelConfig
from cxml.features.labels import churn_times
from cxml.features.table import Table
from cxml.models import survival
from cxml.models.survival import (
    MONTH_DAYS,
    Grid,
    HazardModel,
    kept_value,
    monthly_value,
    person_periods,
    restricted_mean,
    survival_at,
)

CUTOFF = pd.Timestamp("2025-01-01", tz="UTC")
END = pd.Timestamp("2025-07-01", tz="UTC")  # 181 days after the cutoff


def _events(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": [r[0] for r in rows],
            "event_time": pd.to_datetime([r[1] for r in rows], utc=True),
            "event_type": [r[2] for r in rows],
        }
    )


def test_contractual_churn_times_censor_who_is_still_there_at_the_end():
    events = _events(
        [
            ("a", "2025-01-11", "cancel"),  # churns 10 days after the cutoff: an event
            ("b", "2024-12-01", "login"),  # still a customer at the end: censored at 181 days
            ("c", "2025-08-01", "cancel"),  # cancels after the end: not seen, so censored too
            ("d", "2025-03-02", "cancel"),
            ("d", "2025-04-01", "cancel"),  # only the first cancel counts
        ]
    )
    rows = pd.Index(["a", "b", "c", "d"], dtype=object)
    got = churn_times(events, rows, CUTOFF, END, LabelConfig(churn="contractual"))
    assert got["event"].tolist() == [True, False, False, True]
    assert got["duration_days"].tolist() == [10.0, 181.0, 181.0, 60.0]


def test_inactivity_churn_is_the_day_a_customer_is_declared_lapsed():
    config = LabelConfig(churn="inactivity", activity_types=("purchase",), horizon_days=90)
    events = _events(
        [
            # bought 10 days before the cutoff and never again: lapsed 80 days after it, so
            # "churned within 90 days", as the fixed label says
            ("a", "2024-12-22", "purchase"),
            # bought on 2025-01-21, then not for 100 days: lapsed 90 days after that purchase
            ("b", "2024-12-01", "purchase"),
            ("b", "2025-01-21", "purchase"),
            ("b", "2025-05-01", "purchase"),
            # no gap of 90 days between purchases, the last 30 days before the end: no lapse
            # can be seen, censored at the end
            ("c", "2024-12-15", "purchase"),
            ("c", "2025-02-15", "purchase"),
            ("c", "2025-04-20", "purchase"),
            ("c", "2025-06-01", "purchase"),
            ("c", "2025-07-15", "purchase"),  # after the end: never read
        ]
    )
    rows = pd.Index(["a", "b", "c"], dtype=object)
    got = churn_times(events, rows, CUTOFF, END, config)
    assert got["event"].tolist() == [True, True, False]
    assert got["duration_days"].tolist() == [80.0, 110.0, 181.0]


def test_a_censored_row_adds_no_event_and_no_period_it_was_not_watched_through():
    grid = Grid(days=30.0, n=4)
    duration = np.array([10.0, 45.0, 45.0, 400.0, 0.0])
    event = np.array([True, True, False, True, False])
    rows, period, churned = person_periods(duration, event, grid)
    # a: churned in period 0; b: at risk in 0, churned in 1; c: censored at 45, watched
    # through period 0 only; d: churned after the grid, at risk in all 4; e: never watched
    assert rows.tolist() == [0, 1, 1, 2, 3, 3, 3, 3]
    assert period.tolist() == [0, 0, 1, 0, 0, 1, 2, 3]
    assert churned.tolist() == [1, 0, 1, 0, 0, 0, 0, 0]


def test_the_curve_falls_in_time_and_what_is_read_off_it_is_consistent():
    rng = np.random.default_rng(3)
    n = 3000
    x = rng.normal(size=(n, 3))
    rate = np.exp(-4.5 + 0.8 * x[:, 0])  # daily hazard, rising with the first feature
    duration = rng.exponential(1 / rate)
    watched = rng.uniform(60, 400, n)
    event = duration <= watched
    grid = Grid(days=30.0, n=12)
    config = ModelConfig(learning_rate=0.1, num_leaves=7, min_child_samples=50, max_rounds=200)
    stop = np.arange(n) % 5 == 0
    model = HazardModel.fit(x, np.minimum(duration, watched), event, stop, config, grid)
    test = rng.normal(size=(500, 3))
    curve = model.survival(test)
    assert (np.diff(curve, axis=1) <= 1e-12).all() and (curve > 0).all() and (curve <= 1).all()
    at = survival_at(curve, grid, [30.0, 90.0, 180.0, 360.0])
    assert np.allclose(at[:, 0], curve[:, 0]) and np.allclose(at[:, 3], curve[:, 11])
    assert (np.diff(at, axis=1) <= 1e-12).all()
    tenure = restricted_mean(curve, grid)
    assert ((tenure > 0) & (tenure <= 360)).all()
    # it learned the direction: the riskier feature value, the shorter the expected tenure
    assert np.corrcoef(test[:, 0], tenure)[0, 1] < -0.5
    # and the level: within a few points of the true survival at 90 days on average
    truth = np.exp(-np.exp(-4.5 + 0.8 * test[:, 0]) * 90)
    assert abs(at[:, 1].mean() - truth.mean()) < 0.05
    # predicted once per distinct step of time the trees know, exactly as once per period
    design = np.column_stack([test[:50], np.zeros(50)])
    every = []
    for k in range(grid.n):
        design[:, -1] = k
        every.append(model.booster.predict(design, num_iteration=model.rounds))
    assert np.array_equal(np.column_stack(every), model.hazards(test[:50]))
    # a request's rows (the periods stacked into one call) score as the whole base does, where
    # the trees that ignore time are summed once and those that split on it once per period:
    # LightGBM's own numbers, but for the order in which the trees' outputs are added up
    steady, timed = model.trees_apart
    assert steady is not None and timed is not None
    assert steady.num_trees() + timed.num_trees() == model.rounds
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(survival, "STACKED_ROWS", 0)  # one call per period
        apart = model.hazards(test[:50])
        assert np.allclose(np.column_stack(every), apart, rtol=0, atol=1e-12)
        # a large base goes in blocks of rows (one ragged): the same bits as in one block
        patch.setattr(survival, "CURVE_BLOCK", 7)
        assert np.array_equal(apart, model.hazards(test[:50]))
        # the split is made again after a round trip through pickle (the bundle), not stored
        restored = pickle.loads(pickle.dumps(model))
        assert "trees_apart" not in restored.__dict__
        assert np.array_equal(apart, restored.hazards(test[:50]))
        assert np.array_equal(survival_at(curve, grid, [30.0, 90.0, 180.0, 360.0]), at)
        assert np.array_equal(restricted_mean(curve, grid), tenure)
        assert restricted_mean(curve[:0], grid).shape == (0,)
    with pytest.raises(ValueError, match="not modelled"):
        survival_at(curve, grid, 400.0)


def test_a_customer_pays_only_the_months_they_are_expected_to_stay():
    grid = Grid()
    staying = np.ones((1, grid.n))
    gone = np.zeros((1, grid.n))  # cancelled: no future month is paid
    halving = np.exp(np.log(0.5) / (6 * MONTH_DAYS) * grid.ends)[None, :]  # half by month 6
    curves = np.vstack([staying, gone, halving, staying])
    pay = np.array([10.0, 10.0, 10.0, -5.0])  # a negative charge is no income
    value = monthly_value(curves, grid, pay, months=12, yearly_discount=0.0)
    assert value[0] == pytest.approx(120.0) and value[1] < 1e-6 and value[3] == 0.0
    assert 0 < value[2] < 120.0
    discounted = monthly_value(curves, grid, pay, months=12, yearly_discount=0.1)
    assert (discounted <= value).all() and discounted[0] < 120.0
    # months past the year the model sees are not promised
    assert monthly_value(curves, grid, pay, months=24, yearly_discount=0.0)[0] == value[0]


def test_a_save_is_worth_the_months_the_customer_stays_once_past_the_horizon():
    grid = Grid()
    weeks = grid.ends
    # the same risk up to the horizon (91 days), then one stays and one leaves within weeks
    stays = np.exp(-0.002 * np.minimum(weeks, 91.0))[None, :]
    leaves = np.exp(-0.002 * np.minimum(weeks, 91.0) - 0.05 * np.maximum(weeks - 91.0, 0))
    curves = np.vstack([stays, leaves[None, :]])
    pay = np.array([10.0, 10.0])
    kept = kept_value(curves, grid, pay, horizon_days=91, months=12, yearly_discount=0.0)
    # kept to the horizon, the first pays every month of the year; the second barely past it
    assert kept[0] == pytest.approx(120.0, abs=0.5)
    assert 30.0 < kept[1] < 40.0
    # a save is worth more than the customer's value from today, who may leave before it
    today = monthly_value(curves, grid, pay, months=12, yearly_discount=0.0)
    assert (kept >= today - 1e-9).all() and today[0] < kept[0]


def test_the_value_rule_picks_the_fixed_multiple_or_the_kept_months():
    grid = Grid()
    features = Table.of(pd.DataFrame({"charge": [10.0, 20.0]}, index=["a", "b"]))
    fixed = CustomerValue(feature="charge", multiplier=12, margin=0.5)
    config = ActionsConfig(value=fixed, catalog=(Action(name="call", channel="phone", cost=1),))
    assert customer_values(features, config, None, None).tolist() == [120.0, 240.0]
    lifetime = replace(config, value=replace(fixed, rule="lifetime"))
    with pytest.raises(ValueError, match="rule: fixed"):
        customer_values(features, lifetime, None, None)
    staying = np.ones((2, grid.n))
    # the lifetime rule pays the margin of each month: half of 10 and of 20, for a year
    assert customer_values(features, lifetime, staying, grid) == pytest.approx([60.0, 120.0])
