"""The estimators behind `cxml monitor` (models/monitoring.py): expected AUC and calibration from
calibrated probabilities alone, realised outcomes of earlier scorings, the decisions taken on
them, and the thresholds."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from cxml.config import LabelConfig, MonitorConfig
from cxml.models.evaluate import binary_metrics, expected_calibration_error
from cxml.models.monitoring import (
    DECISION_GROUPS,
    Scoring,
    alerts,
    decision_impact,
    drift_table,
    ece_by_chance,
    expected_auc,
    expected_performance,
    outcomes,
)


def _pairs_by_hand(p: list[float]) -> float:
    """The definition, pair by pair: Σ p_i (1 − p_j) [p_i > p_j, ties ½] over Σ p_i (1 − p_j)."""
    correct = total = 0.0
    for i, j in itertools.permutations(range(len(p)), 2):
        weight = p[i] * (1 - p[j])
        total += weight
        correct += weight * (1.0 if p[i] > p[j] else 0.5 if p[i] == p[j] else 0.0)
    return correct / total


def test_expected_auc_is_exact_on_tiny_hand_cases():
    # one likely churner above one likely stayer: right pair 0.9·0.9, wrong pair 0.1·0.1
    assert expected_auc([0.9, 0.1]) == pytest.approx(0.81 / 0.82, abs=1e-12)
    # outcomes that are certain: the estimate is the AUC those outcomes give
    assert expected_auc([1.0, 1.0, 0.0, 0.0]) == pytest.approx(1.0, abs=1e-12)
    assert expected_auc([1.0, 0.3, 0.3, 0.0]) == pytest.approx(_pairs_by_hand([1, 0.3, 0.3, 0]))
    # everyone alike: no ordering information, exactly chance
    assert expected_auc([0.2] * 5) == pytest.approx(0.5, abs=1e-12)
    # order of the rows never matters
    assert expected_auc([0.1, 0.7, 0.4]) == pytest.approx(expected_auc([0.4, 0.1, 0.7]))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_expected_auc_equals_the_pairwise_definition_with_ties(seed):
    rng = np.random.default_rng(seed)
    p = list(np.round(rng.uniform(0, 1, 40), 1))  # one decimal: many ties
    assert expected_auc(p) == pytest.approx(_pairs_by_hand(p), abs=1e-12)


def test_expected_auc_is_undefined_without_a_possible_pair_and_refuses_bad_input():
    assert np.isnan(expected_auc([0.0, 0.0]))
    assert np.isnan(expected_auc([0.4]))
    with pytest.raises(ValueError, match="between 0 and 1"):
        expected_auc([0.2, 1.3])
    with pytest.raises(ValueError, match="no NaN"):
        expected_auc([0.2, np.nan])


def test_expected_auc_matches_the_mean_realised_auc_when_labels_follow_the_probabilities():
    rng = np.random.default_rng(7)
    p = rng.beta(0.8, 6.0, 4000)  # a churn-like spread: mean about 0.12
    realised = [
        binary_metrics((rng.random(len(p)) < p).astype(int), p)["roc_auc"] for _ in range(300)
    ]
    assert expected_auc(p) == pytest.approx(np.mean(realised), abs=0.003)
    # the same order with probabilities closer together promises a weaker ranking
    assert expected_auc(0.5 * p + 0.05) < expected_auc(p) - 0.05


def test_ece_by_chance_is_what_a_calibrated_model_shows_on_average():
    rng = np.random.default_rng(3)
    p = rng.beta(0.8, 6.0, 1500)
    drawn = [expected_calibration_error(rng.random(len(p)) < p, p) for _ in range(300)]
    assert ece_by_chance(p) == pytest.approx(np.mean(drawn), rel=0.1)
    # more customers, less noise
    assert ece_by_chance(np.tile(p, 4)) == pytest.approx(ece_by_chance(p) / 2, rel=1e-9)


def test_expected_performance_counts_the_churners_it_expects():
    found = expected_performance([0.5, 0.5, 0.1, 0.9])
    assert found["expected_churners"] == pytest.approx(2.0)
    assert found["churners_sd"] == pytest.approx(np.sqrt(0.25 + 0.25 + 0.09 + 0.09))
    assert found["expected_churn_rate"] == pytest.approx(0.5)
    assert found["customers"] == 4


def _scored(cutoff: str, rows: list[tuple[str, float, str]]) -> pd.DataFrame:
    ids, p, action = zip(*rows, strict=True)
    return pd.DataFrame(
        {
            "customer_id": ids,
            "cutoff": pd.Timestamp(cutoff, tz="UTC"),
            "churn_probability": p,
            "action": action,
        }
    )


def _events(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    ids, times, kinds = zip(*rows, strict=True)
    return pd.DataFrame(
        {"customer_id": ids, "event_time": pd.to_datetime(times, utc=True), "event_type": kinds}
    )


CUSTOMERS = pd.DataFrame(
    {
        "customer_id": ["a", "b", "c", "d"],
        "signup_time": pd.to_datetime(["2024-01-01"] * 4, utc=True),
    }
)
LABELS = LabelConfig(horizon_days=30, churn="contractual")


def test_outcomes_read_each_scorings_rows_once():
    events = _events([("a", "2024-03-05", "cancel"), ("d", "2024-05-20", "login")])
    reads: list[str] = []

    def scoring(name: str, rows: pd.DataFrame) -> Scoring:
        at = pd.Timestamp(rows["cutoff"].iloc[0])
        return Scoring(name, "3", at, lambda: reads.append(name) or rows)

    early = _scored("2024-03-01", [("a", 0.8, "none"), ("b", 0.3, "none")])
    late = _scored("2024-05-01", [("b", 0.2, "none"), ("d", 0.1, "none")])  # still open
    found = outcomes([scoring("run 1", early), scoring("run 2", late)], events, CUSTOMERS, LABELS)
    assert reads == ["run 2", "run 1"]  # each once, the newest cutoff first
    assert len(found.earlier) == 1 and found.pending.iloc[0]["customers"] == 2


def test_only_the_newest_closed_scorings_are_judged_and_the_older_counted():
    """A weekly run judges the `judged` newest closed scorings by cutoff, whatever order the
    registry gives them in; older ones are counted, never read; open ones are still listed."""
    events = _events(
        [
            ("a", "2024-02-05", "cancel"),  # a churner in each judged window
            ("b", "2024-03-05", "cancel"),
            ("c", "2024-04-05", "cancel"),
            ("d", "2024-05-20", "login"),  # the last event: the 05-01 window is open
        ]
    )
    reads: list[str] = []

    def scoring(cutoff: str) -> Scoring:
        rows = _scored(cutoff, [(c, 0.5, "none") for c in "abcd"])
        at = pd.Timestamp(rows["cutoff"].iloc[0])
        return Scoring(cutoff, "3", at, lambda: reads.append(cutoff) or rows, customers=3)

    cutoffs = ["2024-03-01", "2024-02-01", "2024-05-01", "2024-04-01", "2024-01-15"]
    found = outcomes([scoring(c) for c in cutoffs], events, CUSTOMERS, LABELS, judged=2)
    assert reads == ["2024-04-01", "2024-03-01"]  # 05-01 is open; 02-01 and 01-15 older
    assert found.older == 2
    assert list(found.pending["source"]) == ["2024-05-01"]
    assert [str(c.date()) for c in found.earlier["cutoff"]] == ["2024-04-01", "2024-03-01"]
    everything = outcomes([scoring(c) for c in cutoffs], events, CUSTOMERS, LABELS)
    assert everything.older == 0 and len(reads) == 2 + 4


def test_the_monitored_versions_newest_closed_scoring_is_judged_beyond_the_cap():
    """Newer closed scorings of another version (a challenger's weekly runs) must not push the
    monitored version's out of the judged ones: its thresholds would have nothing to judge."""
    events = _events(
        [
            ("a", "2024-02-05", "cancel"),
            ("b", "2024-03-05", "cancel"),
            ("c", "2024-04-05", "cancel"),
            ("d", "2024-05-20", "login"),
        ]
    )
    reads: list[str] = []

    def scoring(cutoff: str, version: str) -> Scoring:
        rows = _scored(cutoff, [(c, 0.5, "none") for c in "abcd"])
        at = pd.Timestamp(rows["cutoff"].iloc[0])
        return Scoring(cutoff, version, at, lambda: reads.append(cutoff) or rows, customers=4)

    made = [
        scoring("2024-04-01", "4"),
        scoring("2024-03-01", "4"),
        scoring("2024-02-01", "3"),  # the monitored version's newest closed scoring
        scoring("2024-01-15", "3"),
    ]
    found = outcomes(made, events, CUSTOMERS, LABELS, judged=2, version="3")
    assert reads == ["2024-04-01", "2024-03-01", "2024-02-01"]
    assert found.older == 1
    assert list(found.earlier["model_version"]) == ["4", "4", "3"]
    reads.clear()
    within = outcomes(made, events, CUSTOMERS, LABELS, judged=2, version="4")
    assert reads == ["2024-04-01", "2024-03-01"] and within.older == 2  # no more than the cap


def test_a_scoring_still_open_is_not_read_when_its_count_is_known():
    events = _events([("a", "2024-03-05", "cancel"), ("d", "2024-05-20", "login")])
    reads: list[str] = []
    late = _scored("2024-05-01", [("b", 0.2, "none"), ("d", 0.1, "none")])  # still open
    at = pd.Timestamp(late["cutoff"].iloc[0])
    open_ = Scoring("run 2", "3", at, lambda: reads.append("run 2") or late, customers=2)
    found = outcomes([open_], events, CUSTOMERS, LABELS)
    assert reads == []
    assert found.pending.iloc[0]["customers"] == 2


def test_outcomes_judge_closed_windows_and_list_the_open_ones():
    events = _events(
        [
            ("a", "2024-03-05", "cancel"),  # in a's window from the 2024-03-01 scoring: churned
            ("b", "2024-03-20", "login"),
            ("c", "2024-04-10", "login"),  # after the window: c stayed
            ("d", "2024-05-20", "login"),  # the last event: windows closing after it are open
        ]
    )
    early = _scored("2024-03-01", [("a", 0.8, "none"), ("b", 0.3, "none"), ("c", 0.1, "none")])
    late = _scored("2024-05-01", [("b", 0.2, "none"), ("d", 0.1, "none")])  # closes 05-31
    found = outcomes(
        [Scoring.of("run 1", "3", early), Scoring.of("run 2", "3", late)], events, CUSTOMERS, LABELS
    )
    assert len(found.earlier) == 1
    row = found.earlier.iloc[0]
    assert row["cutoff"] == pd.Timestamp("2024-03-01", tz="UTC")
    assert (row["source"], row["model_version"], row["customers"]) == ("run 1", "3", 3)
    assert row["realised_churners"] == 1 and row["expected_churners"] == pytest.approx(1.2)
    assert row["realised_auc"] == pytest.approx(1.0)  # a, the churner, ranked first
    assert list(found.pending["cutoff"]) == [pd.Timestamp("2024-05-01", tz="UTC")]
    assert found.pending.iloc[0]["closes"] == pd.Timestamp("2024-05-31", tz="UTC")
    assert found.decisions.empty  # no actions log given


def test_decisions_split_the_recommended_customers_by_what_was_done():
    at, horizon = pd.Timestamp("2024-03-01", tz="UTC"), pd.Timedelta(days=30)
    joined = pd.DataFrame(
        {
            "churn_probability": [0.6, 0.4, 0.5, 0.3, 0.2],
            "action": ["call", "call", "discount", "call", "none"],
            "churn": [0.0, 1.0, 0.0, 1.0, 0.0],
        },
        index=pd.Index(["a", "b", "c", "d", "e"], name="customer_id"),
    )
    log = pd.DataFrame(
        {
            "customer_id": ["a", "c", "d", "b", "e"],
            "action_time": pd.to_datetime(
                [
                    "2024-03-02",  # a: recommended call, got a call
                    "2024-03-05",  # c: recommended discount, got a call
                    "2024-02-20",  # d: before the cutoff: not a decision on this list
                    "2024-04-15",  # b: after the window: not counted
                    "2024-03-03",  # e: not recommended anything: not in any group
                ],
                utc=True,
            ),
            "action": ["call", "call", "call", "call", "call"],
        }
    )
    rows = {r["group"]: r for r in decision_impact(joined, log, at, horizon)}
    assert list(rows) == list(DECISION_GROUPS)
    same, other, untreated = (rows[g] for g in DECISION_GROUPS)
    assert same["customers"] == 1 and same["expected_churn"] == pytest.approx(0.6)
    assert same["realised_churn"] == 0.0 and same["gap"] == pytest.approx(-0.6)
    assert other["customers"] == 1 and other["expected_churn"] == pytest.approx(0.5)
    assert untreated["customers"] == 2  # b and d
    assert untreated["realised_churn"] == 1.0
    assert untreated["expected_churn"] == pytest.approx(0.35)
    # nobody recommended was acted on: nothing to say
    assert decision_impact(joined, log[log["customer_id"].isin(["d", "b"])], at, horizon) == []


def _drift(psi: list[float], noise: list[float]) -> pd.DataFrame:
    frame = pd.DataFrame(
        {"feature": [f"f{i}" for i in range(len(psi))], "psi": psi, "noise": noise}
    )
    return frame.assign(status="stable")


def test_a_feature_crosses_only_past_the_threshold_and_past_chance():
    table = drift_table(_drift([0.5, 0.3, 0.3, 0.1], [0.05, 0.05, 0.4, 0.01]), 0.25)
    assert list(table["crossed"]) == [True, True, False, False]  # f2: within chance


def test_alerts_name_the_setting_and_the_numbers():
    config = MonitorConfig(max_drift_share=0.25)
    drift = drift_table(_drift([0.5, 0.3, 0.0, 0.0], [0.01] * 4), 0.25)  # 2 of 4 moved
    expected = {"expected_auc": 0.70}
    latest = {"cutoff": pd.Timestamp("2024-03-01", tz="UTC"), "realised_auc": 0.55, "ece": 0.02}
    found = {a.setting: a for a in alerts(drift, expected, 0.80, latest, config)}
    assert set(found) == {"max_drift_share", "max_expected_auc_drop", "min_realised_auc"}
    assert found["max_drift_share"].value == pytest.approx(0.5)
    assert "2 of 4 features drifted" in found["max_drift_share"].message
    assert "max_drift_share 0.25" in found["max_drift_share"].message
    assert found["max_expected_auc_drop"].value == pytest.approx(0.10)
    assert "the scoring of 2024-03-01 realised AUC 0.550" in found["min_realised_auc"].message
    calm = alerts(drift_table(_drift([0.0] * 4, [0.01] * 4), 0.25), {"expected_auc": 0.79}, 0.8,
                  {**latest, "realised_auc": 0.75}, config)  # fmt: skip
    assert calm == []
