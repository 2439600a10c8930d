"""Calibrating the uplift learner's effects on a randomised campaign (actions/calibration.py):
on data where the true effects are known, an overstated learner is brought back to them."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from cxml.actions.calibration import UpliftCalibration, calibrate, pseudo_effects

NAMES = ["discount", "email"]


def campaign(n: int, seed: int) -> dict[str, np.ndarray]:
    """A randomised campaign: no action 50%, discount 25%, email 25%. The true effects on
    retention vary by customer; the 'learner' doubles each effect's spread around its mean,
    adds 0.03 to the discount's and noise: overstated where it is largest, as learners are."""
    rng = np.random.default_rng(seed)
    base = rng.uniform(0.5, 0.8, n)
    true = np.column_stack([rng.uniform(0.0, 0.16, n), rng.uniform(0.0, 0.04, n)])
    estimates = 2 * (true - true.mean(axis=0)) + true.mean(axis=0) + [0.03, 0.0]
    estimates += rng.normal(0, 0.02, (n, 2))
    logged = rng.choice(["none", *NAMES], n, p=[0.5, 0.25, 0.25])
    propensity = np.select([logged == "none", logged == "discount"], [0.5, 0.25], 0.25)
    p_good = base + np.select(
        [logged == "discount", logged == "email"], [true[:, 0], true[:, 1]], 0.0
    )
    good = (rng.random(n) < p_good).astype(float)
    return {"true": true, "estimates": estimates, "logged": logged, "prop": propensity,
            "good": good, "base": base}  # fmt: skip


@pytest.mark.parametrize("doubly_robust", [True, False])
def test_an_overstated_learner_is_brought_back_to_the_true_effects(doubly_robust):
    data = campaign(40_000, seed=3)
    predicted = None
    if doubly_robust:  # the learner's own P(good) per arm: right on average, as a learner is
        none = data["base"]
        arms = {a: none + data["estimates"][:, j] for j, a in enumerate(NAMES)}
        predicted = pd.DataFrame({"none": none} | arms)
    pseudo = pseudo_effects(data["good"], data["logged"], data["prop"], NAMES, predicted)
    fitted = calibrate(data["estimates"], pseudo, NAMES)
    assert fitted.slope == pytest.approx(0.5, abs=0.1)  # the doubled spread, halved back
    calibrated = fitted.apply(data["estimates"], NAMES)
    true = data["true"]
    raw_error = np.abs(data["estimates"].mean(axis=0) - true.mean(axis=0))
    error = np.abs(calibrated.mean(axis=0) - true.mean(axis=0))
    assert raw_error[0] > 0.025 and error[0] < raw_error[0] / 2  # most of the offset is gone
    # the top tenth by estimate, where an allocation picks: overstated raw, honest calibrated
    top = data["estimates"][:, 0] >= np.quantile(data["estimates"][:, 0], 0.9)
    raw = data["estimates"][top, 0].mean() / true[top, 0].mean()
    honest = calibrated[top, 0].mean() / true[top, 0].mean()
    assert raw > 1.3 and abs(honest - 1) < 0.15, (raw, honest)
    se = fitted.standard_errors(data["estimates"], NAMES)
    assert np.all(se > 0) and np.all(se < 0.05)
    # further from the action's mean estimate, less certain: the slope's share grows
    far = np.abs(data["estimates"][:, 0] - fitted.estimated[0])
    assert np.corrcoef(far, se[:, 0])[0, 1] > 0.5


def test_it_travels_as_plain_data_and_leaves_unseen_actions_alone():
    data = campaign(2_000, seed=5)
    pseudo = pseudo_effects(data["good"], data["logged"], data["prop"], NAMES, None)
    fitted = calibrate(data["estimates"], pseudo, NAMES, n_boot=50)
    again = UpliftCalibration.from_info(fitted.as_info())
    assert again == fitted
    assert UpliftCalibration.from_info(None) is None
    rows = np.array([[0.1, 0.2, 0.3]])
    out = fitted.apply(rows, ["email", "call", "discount"])
    assert out[0, 1] == 0.2  # "call" was not in the campaign: as estimated


def test_a_learner_that_ranks_no_one_gets_no_slope_from_its_rounding():
    """Arms that learned no difference give one effect, give or take 1e-17 of rounding (seen
    on 2,000 customers): the slope fitted to that noise was 1e15 and blew every effect up."""
    data = campaign(2_000, seed=5)
    pseudo = pseudo_effects(data["good"], data["logged"], data["prop"], NAMES, None)
    flat = 1e-17 * np.random.default_rng(0).normal(size=pseudo.shape)
    fitted = calibrate(flat, pseudo, NAMES, n_boot=50)
    assert fitted.slope == 0.0 and fitted.fitted_slope == 0.0
    out = fitted.apply(flat[:3], NAMES)
    assert np.allclose(out, np.array(fitted.measured)[None, :])  # each action's measured mean


def test_mismatched_shapes_are_refused():
    with pytest.raises(ValueError, match="must match"):
        calibrate(np.zeros((5, 2)), np.zeros((5, 3)), NAMES)


@pytest.mark.parametrize("at_campaign_levels", [False, True])
def test_cross_fitted_on_the_learning_campaigns_measures_the_true_mean_effects(
    at_campaign_levels,
):
    """Two randomised campaigns over 3,000 customers, propensities logged for half the rows
    only (the rest estimated out of fold); a real offset learner, fitted on one half of the
    customers at a time. The measured mean effect of each action lands on the truth, whether
    the effects are taken at the learner's level or at each campaign's."""
    from cxml.actions.calibration import cross_fitted
    from cxml.models.uplift import OffsetLearner

    rng = np.random.default_rng(11)
    n = 6_000
    x = rng.normal(size=(n, 2))
    customers = np.tile(np.arange(n // 2), 2)
    treatment = rng.choice(["none", *NAMES], n, p=[0.5, 0.25, 0.25])
    effect = {"discount": 0.10 * (x[:, 0] > 0), "email": np.full(n, 0.03)}
    p_good = 0.6 + 0.1 * np.tanh(x[:, 1])
    for name, lift in effect.items():
        p_good = p_good + np.where(treatment == name, lift, 0.0)
    good = (rng.random(n) < p_good).astype(int)
    logged = np.where(np.arange(n) < n // 2, np.where(treatment == "none", 0.5, 0.25), np.nan)
    features = pd.DataFrame(x, columns=["x0", "x1"])

    fitted, halves = cross_fitted(
        lambda: OffsetLearner(control="none", seed=0), features, treatment, good, logged,
        customers, NAMES, "none", 0, np.repeat([0, 1], n // 2) if at_campaign_levels else None,
    )  # fmt: skip
    assert fitted.rows == n and fitted.slope >= 0 and len(halves) == 2
    true = [effect["discount"].mean(), 0.03]
    assert np.allclose(fitted.measured, true, atol=3 * np.sqrt(fitted.var_measured))


def test_campaign_levels_meet_each_campaigns_measured_rate_and_keep_the_order_within_it():
    """One learner's control arm over two campaigns whose customers stayed at 0.9 and 0.5:
    each campaign's levels average its own rate, and within a campaign the riskier customer
    stays the riskier."""
    from cxml.actions.calibration import campaign_levels

    own = np.tile([0.6, 0.7, 0.8], 2)
    nobody = np.array([0.9] * 3 + [0.5] * 3)  # every row untreated, propensity 1: its outcome
    level = campaign_levels(own, nobody, np.repeat(["2024-01", "2024-02"], 3))
    assert level[:3].mean() == pytest.approx(0.9, abs=1e-9)
    assert level[3:].mean() == pytest.approx(0.5, abs=1e-9)
    assert (np.diff(level[:3]) > 0).all() and (np.diff(level[3:]) > 0).all()


def test_centred_on_todays_customers_shrinks_toward_their_mean_and_keeps_the_bias():
    """Fitted where the discount's mean effect was 0.08 and the learner 0.03 too high; today the
    learner's mean is half of it. Centred on today, the mean calibrated effect is today's minus
    the same bias, not pulled back toward the campaigns' 0.08; the slope is unchanged."""
    data = campaign(4_000, seed=3)
    pseudo = pseudo_effects(data["good"], data["logged"], data["prop"], NAMES, None)
    fitted = calibrate(data["estimates"], pseudo, NAMES, n_boot=50)
    today = data["estimates"] / 2
    centred = fitted.centred(["email", "discount"], today.mean(axis=0)[::-1])
    bias = np.subtract(fitted.measured, fitted.estimated)
    assert centred.slope == fitted.slope
    assert centred.apply(today, NAMES).mean(axis=0) == pytest.approx(
        today.mean(axis=0) + bias, abs=1e-12
    )
    pulled = fitted.apply(today, NAMES).mean(axis=0) - (today.mean(axis=0) + bias)
    assert pulled[0] > 0.005  # uncentred, the discount's effects go back up toward the past


def test_without_a_slope_centring_changes_nothing():
    """Halves that learned nothing estimate 0: their bias is the whole measured effect, and
    today's mean plus it would count the effect twice (3,000 simulated customers: 0.106 used
    for a discount measured at 0.075)."""
    data = campaign(2_000, seed=5)
    pseudo = pseudo_effects(data["good"], data["logged"], data["prop"], NAMES, None)
    flat = np.zeros_like(pseudo)
    fitted = calibrate(flat, pseudo, NAMES, n_boot=50)
    assert fitted.slope == 0
    today = np.full_like(pseudo, 0.03)
    assert fitted.centred(NAMES, today.mean(axis=0)) == fitted
    assert fitted.apply(today, NAMES).mean(axis=0) == pytest.approx(fitted.measured)


def test_the_slope_fitted_to_half_learners_is_carried_over_to_the_whole_learner():
    """Half-learners learn from half the rows, so their estimates carry twice the noise
    variance of the whole learner's, and a slope fitted to them shrinks the whole learner's
    real differences as if they were noise (20,000 simulated customers, seed 7: fitted 0.49,
    the whole learner's slope against the truth 0.95). Scaled by how much more the halves
    spread on the same customers, it is the whole learner's own slope."""
    from cxml.actions.calibration import spread_ratio

    rng = np.random.default_rng(4)
    n, noise = 40_000, 0.015
    true = rng.normal(0.05, 0.03, size=(n, 2))
    whole = true + rng.normal(0, noise, size=(n, 2))
    halves = [true + rng.normal(0, noise * np.sqrt(2), size=(n, 2)) for _ in range(2)]
    pseudo = true + rng.normal(0, 0.1, size=(n, 2))  # noisy, unbiased pseudo-outcomes
    fitted = calibrate(halves[0], pseudo, NAMES, n_boot=50)
    carried = fitted.for_learner(spread_ratio(halves, whole))
    own = 0.03**2 / (0.03**2 + noise**2)  # the whole learner's slope against the truth: 0.8
    assert fitted.fitted_slope == pytest.approx(0.03**2 / (0.03**2 + 2 * noise**2), abs=0.03)
    assert carried.fitted_slope == pytest.approx(own, abs=0.03)
    assert carried.var_slope > fitted.var_slope
    flat = replace(fitted, slope=0.0)
    assert flat.for_learner(1.4) == flat  # nothing ranked: nothing to carry over


def test_a_row_weighted_twice_counts_as_two_rows():
    data = campaign(2_000, seed=5)
    pseudo = pseudo_effects(data["good"], data["logged"], data["prop"], NAMES, None)
    weight = np.where(np.arange(2_000) % 3 == 0, 2.0, 1.0)
    weighted = calibrate(data["estimates"], pseudo, NAMES, n_boot=20, weight=weight)
    twice = np.repeat(np.arange(2_000), weight.astype(int))
    repeated = calibrate(data["estimates"][twice], pseudo[twice], NAMES, n_boot=20)
    assert np.allclose(weighted.fitted_measured, repeated.fitted_measured)
    assert np.allclose(weighted.estimated, repeated.estimated)
    assert weighted.fitted_slope == pytest.approx(repeated.fitted_slope)
    unweighted = calibrate(data["estimates"], pseudo, NAMES, n_boot=20)
    assert not np.allclose(weighted.fitted_measured, unweighted.fitted_measured)
