"""Off-policy evaluation on simulated logs whose true policy value is known exactly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cxml.actions.offpolicy import (
    bootstrap_ci,
    dr_value,
    ips_terms,
    ips_value,
    policy_value_report,
)

ACTIONS = ["control", "email", "call"]
# P(good outcome | segment, action): rows = 4 segments, columns = ACTIONS
TRUE_P = np.array(
    [
        [0.50, 0.55, 0.70],
        [0.60, 0.70, 0.62],
        [0.80, 0.78, 0.85],
        [0.30, 0.45, 0.40],
    ]
)
# the logging policy: known, segment-dependent, never zero
LOGGING = np.array(
    [
        [0.6, 0.3, 0.1],
        [0.5, 0.25, 0.25],
        [0.2, 0.4, 0.4],
        [0.7, 0.2, 0.1],
    ]
)
TARGET = np.array([2, 1, 2, 1])  # the policy to evaluate: an action per segment
TRUTH = float(TRUE_P[np.arange(4), TARGET].mean())  # segments are equally likely


def _simulate(seed: int, n: int = 4000) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    segment = rng.integers(0, 4, size=n)
    cum = LOGGING[segment].cumsum(axis=1)
    logged = (rng.random(n)[:, None] > cum).sum(axis=1)
    reward = (rng.random(n) < TRUE_P[segment, logged]).astype(float)
    names = np.array(ACTIONS, dtype=object)
    return {
        "rewards": reward,
        "logged": names[logged],
        "propensities": LOGGING[segment, logged],
        "target": names[TARGET[segment]],
        "predicted": TRUE_P[segment],  # a good reward model: the truth itself
    }


def _args(d: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    return d["rewards"], d["logged"], d["propensities"], d["target"]


def test_ips_and_dr_intervals_cover_the_truth_and_dr_is_tighter() -> None:
    covered = {"ips": 0, "dr": 0}
    estimates: dict[str, list[float]] = {"ips": [], "dr": []}
    widths: dict[str, list[float]] = {"ips": [], "dr": []}
    for seed in range(20):
        d = _simulate(seed)
        runs = {
            "ips": bootstrap_ci(ips_value, *_args(d), n_boot=300, seed=seed),
            "dr": bootstrap_ci(dr_value, *_args(d), d["predicted"], ACTIONS, n_boot=300, seed=seed),
        }
        for name, (estimate, low, high) in runs.items():
            assert low <= estimate <= high
            covered[name] += low <= TRUTH <= high
            estimates[name].append(estimate)
            widths[name].append(high - low)
    assert covered["ips"] >= 16 and covered["dr"] >= 16, covered
    assert np.std(estimates["dr"]) < np.std(estimates["ips"])
    assert np.mean(widths["dr"]) < 0.8 * np.mean(widths["ips"])
    assert abs(np.mean(estimates["dr"]) - TRUTH) < 0.01


def test_dr_with_a_wrong_model_stays_unbiased_and_with_zeros_equals_ips() -> None:
    d = _simulate(0, n=20_000)
    zeros = pd.DataFrame(0.0, index=range(len(d["rewards"])), columns=ACTIONS)
    assert dr_value(*_args(d), zeros) == pytest.approx(ips_value(*_args(d)), rel=1e-12)
    biased = np.clip(d["predicted"] + 0.2, 0, 1)  # wrong by 0.2, propensities still right
    assert dr_value(*_args(d), biased, ACTIONS) == pytest.approx(TRUTH, abs=0.03)


def test_one_action_for_everyone_and_hand_terms() -> None:
    rewards = np.array([1.0, 0.0, 1.0, 1.0])
    logged = np.array(["email", "email", "control", "call"], dtype=object)
    props = np.array([0.5, 0.25, 0.5, 1.0])
    terms = ips_terms(rewards, logged, props, "email")
    assert terms.tolist() == [2.0, 0.0, 0.0, 0.0]
    assert ips_value(rewards, logged, props, "email") == 0.5
    assert ips_value(rewards, logged, props, ["email"] * 4) == 0.5
    predicted = np.array([[0.2, 0.4, 0.1]] * 4)  # columns = ACTIONS; email predicted 0.4
    # rows: 0.4 + (1 − 0.4)/0.5, 0.4 + (0 − 0.4)/0.25, 0.4, 0.4
    assert dr_value(rewards, logged, props, "email", predicted, ACTIONS) == pytest.approx(
        (1.6 - 1.2 + 0.4 + 0.4) / 4
    )


def test_policy_value_report_lists_each_policy_and_estimator() -> None:
    d = _simulate(3)
    report = policy_value_report(
        d["rewards"],
        d["logged"],
        d["propensities"],
        {"no action": "control", "per segment": d["target"]},
        predicted=d["predicted"],
        actions=ACTIONS,
        n_boot=100,
    )
    assert report[["policy", "estimator"]].values.tolist() == [
        ["no action", "ips"],
        ["no action", "dr"],
        ["per segment", "ips"],
        ["per segment", "dr"],
    ]
    assert (report["low"] <= report["estimate"]).all() and (
        report["estimate"] <= report["high"]
    ).all()
    assert report.loc[0, "matched"] == int((d["logged"] == "control").sum())


def test_bootstrap_of_any_estimator_resamples_rows() -> None:
    rewards = np.random.default_rng(0).normal(size=500)
    estimate, low, high = bootstrap_ci(lambda r: float(np.median(r)), rewards, n_boot=100)
    assert low <= estimate <= high
    assert high - low < 0.5


def test_bootstrap_is_reproducible_at_100k_rows() -> None:
    rng = np.random.default_rng(1)
    n = 100_000
    logged = np.array(ACTIONS, dtype=object)[rng.integers(0, 3, n)]
    args = (rng.random(n), logged, np.full(n, 1 / 3), "email")
    assert bootstrap_ci(ips_value, *args, seed=5) == bootstrap_ci(ips_value, *args, seed=5)


@pytest.mark.parametrize("bad", [0.0, 1.5, -0.1, float("nan")])
def test_propensities_outside_zero_one_are_refused(bad: float) -> None:
    with pytest.raises(ValueError, match=r"outside \(0, 1\]"):
        ips_value([1.0, 0.0], ["a", "a"], [0.5, bad], "a")


def test_other_input_errors_say_what_to_do() -> None:
    with pytest.raises(ValueError, match="one length"):
        ips_value([1.0, 0.0], ["a"], [0.5, 0.5], "a")
    with pytest.raises(ValueError, match="NaN"):
        ips_value([1.0, float("nan")], ["a", "a"], [0.5, 0.5], "a")
    with pytest.raises(ValueError, match="actions="):
        dr_value([1.0], ["a"], [0.5], "a", np.zeros((1, 2)))
    with pytest.raises(ValueError, match="no column for target"):
        dr_value([1.0], ["a"], [0.5], "b", np.zeros((1, 1)), ["a"])
    with pytest.raises(ValueError, match="rows × actions"):
        dr_value([1.0, 1.0], ["a", "a"], [0.5, 0.5], "a", np.zeros((1, 1)), ["a"])
    with pytest.raises(ValueError, match="n_boot"):
        bootstrap_ci(ips_value, [1.0], ["a"], [0.5], "a", alpha=1.5)


def test_a_stochastic_target_policy_is_valued_by_its_mixture() -> None:
    # per segment: call with 0.7, e-mail with 0.3 (never control); truth by the mixture
    mixture = np.array([0.0, 0.3, 0.7])
    truth = float((TRUE_P * mixture).sum(axis=1).mean())
    covered = {"ips": 0, "dr": 0}
    for seed in range(10):
        d = _simulate(100 + seed)
        target = pd.DataFrame(np.tile(mixture, (len(d["rewards"]), 1)), columns=ACTIONS)
        args = (d["rewards"], d["logged"], d["propensities"], target)
        _, low, high = bootstrap_ci(ips_value, *args, n_boot=300, seed=seed)
        covered["ips"] += low <= truth <= high
        _, low, high = bootstrap_ci(dr_value, *args, d["predicted"], ACTIONS, n_boot=300, seed=seed)
        covered["dr"] += low <= truth <= high
    assert covered["ips"] >= 8 and covered["dr"] >= 8, covered
    # a target putting all its weight on one action equals the deterministic policy
    d = _simulate(7)
    one = pd.DataFrame(0.0, index=range(len(d["rewards"])), columns=ACTIONS).assign(call=1.0)
    assert ips_value(*_args(d)[:3], one) == pytest.approx(ips_value(*_args(d)[:3], "call"))
    assert dr_value(*_args(d)[:3], one, d["predicted"], ACTIONS) == pytest.approx(
        dr_value(*_args(d)[:3], "call", d["predicted"], ACTIONS)
    )
    with pytest.raises(ValueError, match="sum to 1"):
        ips_value(*_args(d)[:3], one * 0.5)
