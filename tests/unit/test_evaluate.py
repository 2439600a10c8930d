"""Evaluation metrics on small hand-computed cases, plus agreement with scikit-learn."""

from __future__ import annotations

import io
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from cxml.models.evaluate import (
    _counted_auc,
    _tie_groups,
    auc_difference,
    binary_metrics,
    expected_calibration_error,
    gains_table,
    lift_at,
    metrics_by_segment,
    reliability_table,
    verdict,
)
from cxml.report.figures import gains_figure, reliability_figure


def _perfect_ranking(n: int = 100, positives: int = 10, seed: int = 0):
    """Shuffled rows where every positive scores above every negative."""
    rng = np.random.default_rng(seed)
    y = np.r_[np.ones(positives), np.zeros(n - positives)]
    p = np.r_[rng.uniform(0.6, 0.9, positives), rng.uniform(0.0, 0.5, n - positives)]
    order = rng.permutation(n)
    return y[order], p[order]


def _random_data(n: int = 500, seed: int = 0):
    rng = np.random.default_rng(seed)
    p = rng.uniform(0, 1, n)
    y = (rng.uniform(0, 1, n) < p).astype(int)
    return y, p


# --- calibration ----------------------------------------------------------------------------------


def test_ece_is_zero_when_every_bin_is_calibrated():
    # bin [0.2, 0.3): p = 0.25, 1 of 4 positive; bin [0.7, 0.8): p = 0.75, 3 of 4 positive
    p = [0.25] * 4 + [0.75] * 4
    y = [1, 0, 0, 0, 1, 1, 1, 0]
    assert expected_calibration_error(y, p) == pytest.approx(0.0, abs=1e-12)


def test_ece_weights_each_bin_gap_by_its_share_of_rows():
    # 5 rows at 0.2 never happen (gap 0.2), 5 at 0.9 happen 3/5 = 0.6 (gap 0.3),
    # 10 at 0.55 happen 8/10 (gap 0.25, the other way): 5/20*0.2 + 5/20*0.3 + 10/20*0.25 = 0.25
    p = [0.2] * 5 + [0.9] * 5 + [0.55] * 10
    y = [0] * 5 + [1, 1, 1, 0, 0] + [1] * 8 + [0] * 2
    assert expected_calibration_error(y, p) == pytest.approx(0.25)
    # one bin hides it: mean p = 11/20 = 0.55 and observed 11/20 = 0.55
    assert expected_calibration_error(y, p, bins=1) == pytest.approx(0.0, abs=1e-12)


def test_reliability_table_rows_and_edges():
    p = [0.0, 0.05, 0.31, 0.95, 1.0]
    y = [0, 1, 1, 0, 1]
    table = reliability_table(y, p, bins=10)
    assert list(table.columns) == ["bin_low", "bin_high", "n", "mean_predicted", "observed_rate"]
    assert table["bin_low"].tolist() == pytest.approx([0.0, 0.3, 0.9])
    assert table["bin_high"].tolist() == pytest.approx([0.1, 0.4, 1.0])
    assert table["n"].tolist() == [2, 1, 2]  # p == 1.0 is in the last bin
    assert table["mean_predicted"].tolist() == pytest.approx([0.025, 0.31, 0.975])
    assert table["observed_rate"].tolist() == pytest.approx([0.5, 1.0, 0.5])


def test_bin_edges_are_not_moved_by_float_noise():
    # 0.29 * 100 = 28.999999999999996 and 0.58 * 50 = 28.999999999999996
    assert reliability_table([1], [0.29], bins=100)["bin_low"].tolist() == pytest.approx([0.29])
    assert reliability_table([1], [0.58], bins=50)["bin_low"].tolist() == pytest.approx([0.58])
    assert reliability_table([1], [0.3], bins=10)["bin_low"].tolist() == pytest.approx([0.3])


# --- gains and lift -------------------------------------------------------------------------------


def test_gains_capture_is_monotone_and_reaches_one():
    y, p = _random_data()
    table = gains_table(y, p, points=20)
    assert list(table.columns) == [
        "fraction",
        "customers",
        "positives_captured",
        "capture",
        "lift",
        "precision",
    ]
    assert len(table) == 20
    assert (np.diff(table["capture"]) >= 0).all()
    assert table["fraction"].iloc[-1] == 1.0
    assert table["capture"].iloc[-1] == pytest.approx(1.0)
    assert table["lift"].iloc[-1] == pytest.approx(1.0)
    assert table["customers"].iloc[-1] == len(y)
    assert table["precision"].iloc[-1] == pytest.approx(np.mean(y))


def test_perfect_ranking_has_lift_ten_at_top_ten_percent_with_ten_percent_base_rate():
    y, p = _perfect_ranking()
    table = gains_table(y, p, points=10)
    first = table.iloc[0]
    assert first["customers"] == 10
    assert first["positives_captured"] == 10
    assert first["capture"] == pytest.approx(1.0)
    assert first["lift"] == pytest.approx(10.0)
    assert first["precision"] == pytest.approx(1.0)
    assert lift_at(y, p, 0.1) == pytest.approx((10.0, 1.0))
    assert lift_at(y, p, 0.05) == pytest.approx((10.0, 0.5))


def test_customers_contacted_is_ceil_without_float_noise():
    y, p = _random_data(n=30)
    assert gains_table(y, p, points=10)["customers"].tolist() == list(range(3, 31, 3))
    assert gains_table(y, p, points=7)["customers"].tolist() == [5, 9, 13, 18, 22, 26, 30]


def test_lift_at_hand_case_with_partial_top_share():
    # top ceil(0.25 * 10) = 3 by p hold 2 of the 3 positives: capture 2/3,
    # lift = precision / base rate = (2/3) / (3/10)
    p = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05]
    y = [1, 0, 1, 0, 0, 0, 0, 0, 0, 1]
    lift, capture = lift_at(y, p, 0.25)
    assert capture == pytest.approx(2 / 3)
    assert lift == pytest.approx((2 / 3) / 0.3)


def test_ties_keep_original_order():
    p = [0.5, 0.5, 0.5, 0.5]
    assert lift_at([1, 0, 0, 0], p, 0.25) == pytest.approx((4.0, 1.0))
    assert lift_at([0, 0, 0, 1], p, 0.25) == pytest.approx((0.0, 0.0))


@pytest.mark.parametrize("n", [200, 37])
def test_lift_at_matches_gains_table(n):
    y, p = _random_data(n=n, seed=3)
    table = gains_table(y, p, points=20)
    for row in table.itertuples():
        lift, capture = lift_at(y, p, row.fraction)
        assert lift == pytest.approx(row.lift)
        assert capture == pytest.approx(row.capture)


def test_gains_without_positives_is_nan_not_a_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        table = gains_table([0, 0, 0, 0], [0.1, 0.2, 0.3, 0.4], points=4)
        lift, capture = lift_at([0, 0, 0, 0], [0.1, 0.2, 0.3, 0.4], 0.5)
    assert table["capture"].isna().all()
    assert table["lift"].isna().all()
    assert (table["precision"] == 0).all()
    assert math.isnan(lift)
    assert math.isnan(capture)


# --- binary_metrics -------------------------------------------------------------------------------


def test_binary_metrics_on_a_perfect_ranking():
    y, p = _perfect_ranking()
    metrics = binary_metrics(y, p)
    assert set(metrics) == {
        "n",
        "positives",
        "base_rate",
        "roc_auc",
        "pr_auc",
        "brier",
        "ece",
        "lift_top5",
        "capture_top5",
        "lift_top10",
        "capture_top10",
        "lift_top20",
        "capture_top20",
    }
    assert metrics["n"] == 100
    assert metrics["positives"] == 10
    assert metrics["base_rate"] == pytest.approx(0.1)
    assert metrics["roc_auc"] == 1.0
    assert metrics["pr_auc"] == pytest.approx(1.0)
    assert metrics["lift_top10"] == pytest.approx(10.0)
    assert metrics["capture_top10"] == pytest.approx(1.0)
    assert metrics["lift_top20"] == pytest.approx(5.0)
    assert metrics["capture_top5"] == pytest.approx(0.5)


def test_binary_metrics_agree_with_sklearn_on_random_data():
    y, p = _random_data(n=500, seed=42)
    metrics = binary_metrics(y, p, top=(0.1, 0.3))
    assert metrics["roc_auc"] == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    assert metrics["pr_auc"] == pytest.approx(average_precision_score(y, p), abs=1e-12)
    assert metrics["brier"] == pytest.approx(brier_score_loss(y, p), abs=1e-12)
    assert metrics["ece"] == pytest.approx(expected_calibration_error(y, p))
    assert "lift_top30" in metrics  # 0.3 * 100 = 30.000000000000004 still names top30


@pytest.mark.parametrize("label", [0, 1])
def test_single_class_gives_nan_auc_without_warnings(label):
    y = [label] * 6
    p = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        metrics = binary_metrics(y, p)
    assert math.isnan(metrics["roc_auc"])
    assert math.isnan(metrics["pr_auc"])
    assert metrics["base_rate"] == label
    assert math.isfinite(metrics["brier"])
    assert math.isfinite(metrics["ece"])


# --- metrics_by_segment ---------------------------------------------------------------------------


def test_metrics_by_segment_counts_and_small_segment_rule():
    rng = np.random.default_rng(1)
    segments = np.array(["web"] * 60 + ["store"] * 10 + [None] * 5, dtype=object)
    y = np.r_[np.tile([1, 0, 0], 20), [1, 0] * 5, [1, 1, 1, 1, 1]]
    p = rng.uniform(0, 1, len(y))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        table = metrics_by_segment(y, p, segments, min_rows=50)
    assert table.index.name == "segment"
    assert list(table.columns) == ["n", "base_rate", "mean_predicted", "roc_auc", "ece"]
    assert table["n"].to_dict() == {"(missing)": 5, "store": 10, "web": 60}
    assert table.loc["web", "base_rate"] == pytest.approx(1 / 3)
    assert table.loc["store", "base_rate"] == pytest.approx(0.5)
    assert table.loc["store", "mean_predicted"] == pytest.approx(p[60:70].mean())
    web = slice(0, 60)
    assert table.loc["web", "roc_auc"] == pytest.approx(roc_auc_score(y[web], p[web]))
    assert table.loc["web", "ece"] == pytest.approx(expected_calibration_error(y[web], p[web]))
    assert table.loc[["store", "(missing)"], ["roc_auc", "ece"]].isna().all().all()
    # with the threshold lowered the single-class "(missing)" segment still has no AUC
    small = metrics_by_segment(y, p, segments, min_rows=1)
    assert math.isnan(small.loc["(missing)", "roc_auc"])
    assert math.isfinite(small.loc["(missing)", "ece"])
    assert math.isfinite(small.loc["store", "roc_auc"])


def test_metrics_by_segment_uses_position_and_handles_mixed_values():
    y = [1, 0, 1, 0, 1, 0]
    p = [0.9, 0.1, 0.8, 0.2, 0.7, 0.3]
    segments = pd.Series([1.0, 1.0, 2.0, 2.0, np.nan, np.nan], index=[10, 11, 12, 13, 14, 15])
    table = metrics_by_segment(y, p, segments, min_rows=2)
    assert table["n"].to_dict() == {1.0: 2, 2.0: 2, "(missing)": 2}
    assert (table["roc_auc"] == 1.0).all()
    categorical = pd.Series(["a", None, "a", "b", "b", None], dtype="category")
    assert metrics_by_segment(y, p, categorical)["n"].to_dict() == {"(missing)": 2, "a": 2, "b": 2}


# --- validation -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("y", "p", "message"),
    [
        ([0, 1, 1], [0.2, 0.3], "3 rows but p has 2"),
        ([], [], "empty"),
        ([0, 1], [0.2, 1.5], "outside [0, 1]"),
        ([0, 1], [-0.1, 0.5], "outside [0, 1]"),
        ([0, 1], [0.2, np.nan], "not finite"),
        ([0, 1], [0.2, np.inf], "not finite"),
        ([0, 2], [0.2, 0.3], "other than 0 and 1"),
        ([0, np.nan], [0.2, 0.3], "other than 0 and 1"),
        ([[0, 1]], [[0.2, 0.3]], "1-D"),
    ],
)
def test_invalid_inputs_are_named(y, p, message):
    for call in (
        lambda: expected_calibration_error(y, p),
        lambda: reliability_table(y, p),
        lambda: gains_table(y, p),
        lambda: lift_at(y, p, 0.1),
        lambda: binary_metrics(y, p),
        lambda: metrics_by_segment(y, p, np.zeros(len(y))),
    ):
        with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
            call()


def test_invalid_settings_are_named():
    y, p = [0, 1], [0.2, 0.8]
    with pytest.raises(ValueError, match="bins"):
        expected_calibration_error(y, p, bins=0)
    with pytest.raises(ValueError, match="points"):
        gains_table(y, p, points=0)
    with pytest.raises(ValueError, match="fraction"):
        lift_at(y, p, 0.0)
    with pytest.raises(ValueError, match="fraction"):
        binary_metrics(y, p, top=(0.1, 1.5))
    with pytest.raises(ValueError, match="one segment per row"):
        metrics_by_segment(y, p, np.array(["a"]))


# --- paired bootstrap of an AUC difference ------------------------------------------------------


def _two_scores(n: int, rng: np.random.Generator, shift_a: float, shift_b: float):
    """Churners' scores shifted up by `shift` over N(0, 1) noise: the AUC is Φ(shift / √2)."""
    y = (rng.uniform(size=n) < 0.3).astype(int)
    a = shift_a * y + rng.normal(size=n)
    b = shift_b * y + rng.normal(size=n)
    return y, a, b


def test_a_perfect_score_is_ahead_of_noise():
    y, perfect = _perfect_ranking(n=200, positives=40)
    noise = np.random.default_rng(1).uniform(size=200)
    difference, low, high = auc_difference(y, perfect, noise, n_boot=300)
    assert difference == pytest.approx(1 - roc_auc_score(y, noise))
    assert low <= difference <= high
    assert low > 0.3
    assert verdict(low, high) == "ahead"
    # the other way round: the same draws, the signs turned
    back = auc_difference(y, noise, perfect, n_boot=300)
    assert back == pytest.approx((-difference, -high, -low))
    assert verdict(back[1], back[2]) == "below"


def test_a_score_against_itself_is_a_tie_at_exactly_zero():
    y, p = _random_data(n=300)
    assert auc_difference(y, p, p, n_boot=200) == (0.0, 0.0, 0.0)
    assert verdict(0.0, 0.0) == "tie"


def test_scores_need_not_be_probabilities_and_only_their_order_counts():
    y, p = _random_data(n=300)
    days = 400 * p  # e.g. days since the last purchase
    rng = np.random.default_rng(2)
    other = rng.uniform(size=300)
    assert auc_difference(y, days, other, n_boot=100) == auc_difference(y, p, other, n_boot=100)


def test_the_interval_covers_the_true_difference_in_a_simulation():
    # AUC Φ(1/√2) = 0.760 against Φ(0.5/√2) = 0.638: a true difference of 0.122
    truth = 0.7602499389065233 - 0.6381631950841185
    rng = np.random.default_rng(3)
    covered = 0
    for run in range(100):
        y, a, b = _two_scores(400, rng, 1.0, 0.5)
        _, low, high = auc_difference(y, a, b, n_boot=400, seed=run)
        covered += low <= truth <= high
    assert covered >= 88  # 95 expected; a percentile interval runs a little short at n = 400


def test_the_bootstrap_auc_equals_scikit_learns_on_the_drawn_rows():
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 60)
    p = rng.integers(0, 8, 60) / 8  # many ties
    rows = rng.integers(0, 60, 60)
    counts = np.bincount(rows, minlength=60).astype(float)
    counted = _counted_auc(_tie_groups(p), counts * y, counts * (1 - y))
    assert counted == pytest.approx(roc_auc_score(y[rows], p[rows]))


def test_groups_are_drawn_whole():
    y, a, b = _two_scores(300, np.random.default_rng(5), 1.0, 0.5)
    # one group per row is the row bootstrap
    assert auc_difference(y, a, b, n_boot=200, groups=np.arange(300)) == auc_difference(
        y, a, b, n_boot=200
    )
    # every customer seen twice: drawing rows pretends there are twice as many customers
    twice = [np.r_[v, v] for v in (y, a, b)]
    ids = np.r_[np.arange(300), np.arange(300)]
    _, row_low, row_high = auc_difference(*twice, n_boot=400)
    _, low, high = auc_difference(*twice, n_boot=400, groups=ids)
    assert high - low > 1.2 * (row_high - row_low)  # about √2 wider


def test_resamples_with_one_class_are_skipped():
    y = np.r_[1, np.zeros(14)]  # a draw misses the one churner about a third of the time
    p = np.linspace(0, 1, 15)[::-1]
    difference, low, high = auc_difference(y, p, 1 - p, n_boot=200)
    assert (difference, low, high) == (1.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="single class"):
        auc_difference(np.zeros(5), p[:5], p[:5])


def test_the_bootstrap_is_seeded():
    y, a, b = _two_scores(200, np.random.default_rng(6), 0.8, 0.6)
    assert auc_difference(y, a, b, seed=1) == auc_difference(y, a, b, seed=1)
    assert auc_difference(y, a, b, seed=1) != auc_difference(y, a, b, seed=2)


def test_bad_bootstrap_inputs_are_named():
    y, p = [0, 1, 0, 1], [0.1, 0.2, 0.3, 0.4]
    with pytest.raises(ValueError, match="n_boot"):
        auc_difference(y, p, p, n_boot=0)
    with pytest.raises(ValueError, match="one per row"):
        auc_difference(y, p, p, groups=[1, 2])
    with pytest.raises(ValueError, match="not finite"):
        auc_difference(y, p, [0.1, np.nan, 0.3, 0.4])
    with pytest.raises(ValueError, match="4 rows but p has 3"):
        auc_difference(y, p, p[:3])


@pytest.mark.parametrize(
    ("low", "high", "word"),
    [
        (0.01, 0.05, "ahead"),
        (-0.05, -0.01, "below"),
        (-0.01, 0.02, "tie"),
        (0.0, 0.03, "tie"),  # an interval that reaches 0 cannot tell them apart
        (-0.03, 0.0, "tie"),
    ],
)
def test_the_verdict_reads_the_interval_against_zero(low, high, word):
    assert verdict(low, high) == word


def test_a_verdict_needs_an_interval():
    with pytest.raises(ValueError, match="low <= high"):
        verdict(0.02, 0.01)
    with pytest.raises(ValueError, match="finite"):
        verdict(math.nan, 0.1)


# --- figures --------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["reliability", "gains"])
def test_figures_have_labelled_axes_and_save_as_png(kind):
    y, p = _random_data(n=200)
    if kind == "reliability":
        figure = reliability_figure(reliability_table(y, p), "Test cutoff")
    else:
        figure = gains_figure(gains_table(y, p), "Test cutoff")
    (axes,) = figure.axes
    assert axes.get_xlabel()
    assert axes.get_ylabel()
    assert axes.get_title() == "Test cutoff"
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    assert buffer.getvalue().startswith(b"\x89PNG")
