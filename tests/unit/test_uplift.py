"""Uplift meta-learners on synthetic experiments with known effects, and the uplift metrics on
cases small enough to check by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from cxml.models.evaluate_uplift import (
    ips_policy_value,
    perfect_qini_curve,
    qini_auc_score,
    qini_curve,
    uplift_at_k,
    uplift_auc_score,
    uplift_curve,
)
from cxml.models.metalearner import anchored
from cxml.models.uplift import DRLearner, OffsetLearner, TLearner, XLearner
from tests.helpers import roc_auc

LEARNERS = {"T": TLearner, "X": XLearner, "DR": DRLearner}
ACTIONS = np.array(["none", "call", "mail"])


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


def experiment(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, pd.DataFrame]:
    """Randomized 3-arm test: `call` adds 0.2 to P(y) only when x0 > 0; `mail` adds 0.05 for
    everyone. Returns features (one text column), actions, outcomes and the true effects."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 4)), columns=["x0", "x1", "x2", "x3"])
    X["region"] = rng.choice(["north", "south", "west"], n)
    base = 0.6 * _sigmoid(-1 + 0.8 * X["x1"].to_numpy() + 0.5 * (X["region"] == "south"))
    effect = pd.DataFrame({"call": 0.2 * (X["x0"] > 0), "mail": np.full(n, 0.05)})
    treatment = rng.choice(ACTIONS, n)
    p = base + np.select([treatment == "call", treatment == "mail"], [effect.call, effect.mail])
    return X, treatment, (rng.random(n) < p).astype(int), effect


@pytest.fixture(scope="module")
def fitted() -> dict[str, TLearner | XLearner | DRLearner]:
    X, treatment, y, _ = experiment(6000, seed=1)
    propensity = np.full(len(y), 1 / 3)
    return {
        name: cls(control="none", seed=0).fit(X, treatment, y, propensity)
        for name, cls in LEARNERS.items()
    }


@pytest.fixture(scope="module")
def holdout() -> tuple[pd.DataFrame, np.ndarray, np.ndarray, pd.DataFrame]:
    return experiment(20000, seed=2)


@pytest.fixture(scope="module")
def predicted(fitted, holdout) -> dict[str, pd.DataFrame]:
    return {name: model.predict_uplift(holdout[0]) for name, model in fitted.items()}


@pytest.mark.parametrize("name", list(LEARNERS))
def test_learners_rank_the_true_effect_customers_first(predicted, holdout, name: str) -> None:
    _, treatment, y, effect = holdout
    uplift = predicted[name]["call"].to_numpy()
    assert roc_auc((effect["call"] > 0).to_numpy(), uplift) > 0.9
    top = np.argsort(-uplift)[: int(0.3 * len(uplift))]
    assert effect["call"].to_numpy()[top].mean() > 0.18  # perfect: 0.20; all customers: 0.10
    keep = np.isin(treatment, ["call", "none"])
    flag = (treatment[keep] == "call").astype(int)
    ate = y[keep][flag == 1].mean() - y[keep][flag == 0].mean()
    assert uplift_at_k(y[keep], uplift[keep], flag, k=0.3) > ate + 0.05
    # normalised areas are small even for the true ranking (outcomes are noisy): compare to it
    truth = effect["call"].to_numpy()[keep] + np.linspace(0, 1e-9, keep.sum())  # break ties
    for score in (uplift_auc_score, qini_auc_score):
        best = score(y[keep], truth, flag)
        assert best > 0.05 and score(y[keep], uplift[keep], flag) > 0.6 * best


def test_learners_agree_in_sign_and_size_on_average(predicted, holdout) -> None:
    effect = holdout[3]
    means = pd.DataFrame({name: frame.mean() for name, frame in predicted.items()})
    assert (means > 0).all().all(), means
    assert np.allclose(means.loc["call"], effect["call"].mean(), atol=0.03), means
    assert np.allclose(means.loc["mail"], 0.05, atol=0.03), means
    calls = pd.DataFrame({name: frame["call"] for name, frame in predicted.items()})
    assert calls.corr().to_numpy().min() > 0.7


def test_predict_uplift_is_a_frame_of_actions_on_the_callers_index(fitted, holdout) -> None:
    X = holdout[0].iloc[:5].set_axis(list("abcde"))
    for model in fitted.values():
        frame = model.predict_uplift(X)
        assert list(frame.columns) == ["call", "mail"] and list(frame.index) == list("abcde")
        shuffled = model.predict_uplift(X.iloc[::-1])
        pd.testing.assert_frame_equal(shuffled.iloc[::-1], frame)


def test_learners_are_scikit_learn_estimators_and_accept_arrays() -> None:
    X, treatment, y, _ = experiment(1500, seed=3)
    matrix = X.drop(columns="region").to_numpy()
    model = TLearner(control="none", params={"n_estimators": 20}, seed=4)
    assert clone(model).get_params() == model.get_params()
    assert model.fit(matrix, treatment, y) is model
    assert model.predict_uplift(matrix[:3]).shape == (3, 2)
    assert set(model.predict_outcomes(matrix[:3]).columns) == {"none", "call", "mail"}


def test_dr_learner_corrects_a_targeted_logging_policy_with_its_propensities() -> None:
    """The log sent `call` mostly to high-x1 customers, who respond more anyway: the raw
    difference overstates the effect; the DR-learner with logged propensities does not."""
    rng = np.random.default_rng(5)
    n = 8000
    X = pd.DataFrame(rng.normal(size=(n, 3)), columns=["x0", "x1", "x2"])
    p_call = np.where(X["x1"] > 0, 0.8, 0.2)
    treatment = np.where(rng.random(n) < p_call, "call", "none")
    base = _sigmoid(-1.5 + 1.5 * X["x1"].to_numpy())
    y = (rng.random(n) < base + 0.1 * (treatment == "call")).astype(int)
    logged = np.where(treatment == "call", p_call, 1 - p_call)
    naive = y[treatment == "call"].mean() - y[treatment == "none"].mean()
    assert naive > 0.25  # badly biased: the true effect is 0.10
    for propensity in (logged, None):  # logged, or estimated by the multinomial model
        model = DRLearner(control="none", seed=0).fit(X, treatment, y, propensity)
        assert model.predict_uplift(X)["call"].mean() == pytest.approx(0.1, abs=0.04)


def test_bad_inputs_say_what_to_do() -> None:
    X, treatment, y, _ = experiment(300, seed=6)
    with pytest.raises(ValueError, match="control 'no_action' is not among"):
        TLearner(control="no_action").fit(X, treatment, y)
    with pytest.raises(ValueError, match="y must be 0/1"):
        TLearner(control="none").fit(X, treatment, y * 2)
    with pytest.raises(ValueError, match="propensity must hold one probability"):
        DRLearner(control="none").fit(X, treatment, y, np.zeros(len(y)))
    with pytest.raises(ValueError, match="one treatment and one outcome per row"):
        XLearner(control="none").fit(X, treatment[:-1], y)
    with pytest.raises(ValueError, match="sample_weight must hold one finite weight"):
        OffsetLearner(control="none").fit(X, treatment, y, None, np.full(len(y), np.nan))


@pytest.mark.parametrize("cls", [*LEARNERS.values(), OffsetLearner])
def test_weights_stand_kept_rows_in_for_the_rows_left_out(cls) -> None:
    """Half of the mail arm's customers who stayed are left out (a later campaign reached
    them, as one only reaches who is still there): unweighted, mail looks harmful; the kept
    stayers weighted by 2, the true +0.05 comes back."""
    X, treatment, y, effect = experiment(12000, seed=8)
    lost = (treatment == "mail") & (y == 1) & (np.arange(len(y)) % 2 == 0)
    kept = ~lost
    weight = np.where((treatment == "mail") & (y == 1), 2.0, 1.0)[kept]
    X, treatment, y = X[kept].reset_index(drop=True), treatment[kept], y[kept]
    plain = cls(control="none", seed=0).fit(X, treatment, y)
    weighted = cls(control="none", seed=0).fit(X, treatment, y, None, weight)
    true = effect["mail"].mean()
    assert plain.predict_uplift(X)["mail"].mean() < true - 0.05
    assert weighted.predict_uplift(X)["mail"].mean() == pytest.approx(true, abs=0.03)


# --- metrics ----------------------------------------------------------------------------------

SCORE = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0])
FLAG = np.array([1, 0, 1, 0, 1, 0, 1, 0, 1, 0])
Y = np.array([1, 0, 1, 1, 0, 0, 0, 1, 0, 0])


def test_uplift_at_k_by_hand() -> None:
    # top 4 of all rows: treated rows 0, 2 respond 2/2; control rows 1, 3 respond 1/2
    assert uplift_at_k(Y, SCORE, FLAG, k=0.4) == pytest.approx(1.0 - 0.5)
    assert uplift_at_k(Y, SCORE, FLAG, k=4) == pytest.approx(0.5)
    # top 3 (int(10 * 0.3)): treated rows 0, 2 → 1.0; control row 1 → 0.0
    assert uplift_at_k(Y, SCORE, FLAG, k=0.3) == pytest.approx(1.0)
    # by group: top 2 of the 5 treated (rows 0, 2) and of the 5 control (rows 1, 3)
    assert uplift_at_k(Y, SCORE, FLAG, k=0.4, strategy="by_group") == pytest.approx(0.5)
    order = np.random.default_rng(0).permutation(10)
    assert uplift_at_k(Y[order], SCORE[order], FLAG[order], k=0.4) == pytest.approx(0.5)


def test_uplift_at_k_refuses_what_it_cannot_score() -> None:
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        uplift_at_k(Y, SCORE, FLAG, k=1.5)
    with pytest.raises(ValueError, match="no control rows among the top"):
        uplift_at_k(Y, SCORE, FLAG, k=1)
    with pytest.raises(ValueError, match="strategy must be"):
        uplift_at_k(Y, SCORE, FLAG, strategy="first")  # type: ignore[arg-type]


def test_curves_start_at_the_origin_and_end_at_the_overall_effect() -> None:
    treated_rate, control_rate = Y[FLAG == 1].mean(), Y[FLAG == 0].mean()  # 2/5 and 2/5
    x, qini = qini_curve(Y, SCORE, FLAG)
    assert (x[0], qini[0]) == (0, 0) and x[-1] == 10
    assert qini[-1] == pytest.approx(Y[FLAG == 1].sum() - Y[FLAG == 0].sum() * 5 / 5)
    # after the top 4 rows: 2 treated responders − 1 control responder × 2 treated / 2 control
    assert qini[4] == pytest.approx(2 - 1 * 2 / 2)
    x, curve = uplift_curve(Y, SCORE, FLAG)
    assert curve[-1] == pytest.approx((treated_rate - control_rate) * 10)
    assert curve[4] == pytest.approx((2 / 2 - 1 / 2) * 4)
    x, qini = qini_curve(Y, np.zeros(10), FLAG)  # one tie group: origin and the end only
    assert list(x) == [0, 10]


def test_auc_scores_are_one_for_the_oracle_and_near_zero_for_noise() -> None:
    rng = np.random.default_rng(0)
    flag = rng.integers(0, 2, 4000)
    y = (rng.random(4000) < 0.2 + 0.1 * flag).astype(int)
    oracle = y * flag - y * (1 - flag)
    assert qini_auc_score(y, oracle, flag) == pytest.approx(1.0)
    _, best = perfect_qini_curve(y, flag)
    assert best.max() >= qini_curve(y, rng.random(4000), flag)[1].max()
    noise = [uplift_auc_score(y, rng.random(4000), flag) for _ in range(20)]
    assert abs(np.mean(noise)) < 0.05
    raw = uplift_auc_score(y, oracle, flag, normalize=False)
    assert raw > uplift_auc_score(y, rng.random(4000), flag, normalize=False)


def test_ips_policy_value_by_hand() -> None:
    y = np.array([1, 0, 1, 1])
    logged = np.array(["a", "a", "b", "b"])
    target = np.array(["a", "b", "b", "a"])  # agrees on rows 0 and 2, both responders
    est, low, high = ips_policy_value(y, logged, target, np.full(4, 0.5), n_boot=200, seed=1)
    assert est == pytest.approx((1 / 0.5 + 1 / 0.5) / 4)
    assert low <= est <= high
    with pytest.raises(ValueError, match=r"propensity must be in \(0, 1\]"):
        ips_policy_value(y, logged, target, np.zeros(4))


def test_anchored_keeps_the_shift_in_log_odds_and_moves_its_level_by_hand() -> None:
    """Control 0.2 and action 0.5: log-odds apart by log 4. At the control's own level the
    effect is 0.3; at 0.05 it is 0.05 × 4 / (0.95 + 0.05 × 4) − 0.05."""
    outcomes = {"none": np.array([0.2, 0.2]), "call": np.array([0.5, 0.5])}
    effect = anchored(outcomes, "none", ["call"], np.array([0.2, 0.05]))
    assert effect[:, 0] == pytest.approx([0.3, 0.2 / 1.15 - 0.05], abs=1e-9)


def test_an_effect_learned_where_most_stayed_is_smaller_where_fewer_do() -> None:
    """A campaign where P(y) was 0.5 without action and an action adds 1.0 to its log-odds.
    Today P(y) is expit(−3) for everyone, which features cannot show; a calibrated model gives
    it as the level. Taken there, the learner's effect is today's (0.072), not the campaign's
    (0.23); without a level, and for a learner with no arm models, it stays as learned."""
    rng = np.random.default_rng(5)
    n = 20_000
    X = pd.DataFrame(rng.normal(size=(n, 2)), columns=["x0", "x1"])
    treatment = rng.choice(["none", "call"], n)
    y = (rng.random(n) < _sigmoid(1.0 * (treatment == "call"))).astype(int)
    today = np.full(1000, _sigmoid(-3.0))
    rows = X.head(1000)
    true_now = _sigmoid(-2.0) - _sigmoid(-3.0)
    for cls in (OffsetLearner, TLearner):
        learner = cls(control="none", seed=0).fit(X, treatment, y)
        assert learner.predict_uplift(rows)["call"].mean() == pytest.approx(0.231, abs=0.03)
        assert learner.predict_uplift(rows, today)["call"].mean() == pytest.approx(
            true_now, abs=0.01
        )
    x_learner = XLearner(control="none", seed=0).fit(X, treatment, y)
    assert np.allclose(x_learner.predict_uplift(rows, today), x_learner.predict_uplift(rows))
