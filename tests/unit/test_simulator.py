"""The simulator: deterministic, contract-valid, and its truth agrees with what it samples."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from cxml.data.load import load_data_dir
from cxml.data.schema import check_clean
from cxml.data.simulate import ACTIONS, SimConfig, simulate
from cxml.jobs.ingest import run_simulate
from tests.helpers import roc_auc

SMALL = SimConfig(customers=1_500, seed=11, truth_replicates=8)


def test_same_seed_gives_same_bytes(tmp_path):
    run_simulate(tmp_path / "a", 800, seed=5)
    run_simulate(tmp_path / "b", 800, seed=5)
    for name in ("customers", "events", "actions", "truth"):
        a = (tmp_path / "a" / f"{name}.parquet").read_bytes()
        b = (tmp_path / "b" / f"{name}.parquet").read_bytes()
        assert a == b, name
    run_simulate(tmp_path / "c", 800, seed=6)
    assert (tmp_path / "c" / "events.parquet").read_bytes() != a


def test_output_meets_the_contract_and_loads_without_quarantine(tmp_path):
    run_simulate(tmp_path, 800, seed=2)
    loaded = load_data_dir(tmp_path)
    assert loaded.quarantined_rows == 0
    for table in ("customers", "events", "actions"):
        check_clean(table, loaded.tables[table])


def test_covers_18_months_all_event_types_and_channels():
    sim = simulate(SMALL)
    ev = sim.events
    span = ev["event_time"].max() - ev["event_time"].min()
    assert span >= pd.Timedelta(days=18 * 30)
    assert set(ev["event_type"].unique()) >= {
        "login",
        "purchase",
        "support_ticket",
        "complaint",
        "payment_failed",
        "survey_nps",
        "survey_csat",
        "cancel",
    }
    assert ev["channel"].nunique() == 7
    tickets = ev[ev["event_type"] == "support_ticket"]["value"]
    assert 0.05 < tickets.isna().mean() < 0.5  # some tickets never resolved
    assert ev["text"].notna().sum() > 0


def test_nothing_happens_after_a_cancel_and_at_most_one_cancel():
    ev = simulate(SMALL).events
    cancels = ev[ev["event_type"] == "cancel"].groupby("customer_id", observed=True)["event_time"]
    assert cancels.size().max() == 1
    last = ev.groupby("customer_id", observed=True)["event_time"].max()
    cancel_time = cancels.min()
    assert (last.loc[cancel_time.index] == cancel_time).all()


def test_truth_has_the_stated_columns_and_valid_probabilities():
    truth = simulate(SMALL).truth
    expected = [
        "customer_id",
        "cutoff",
        "horizon_days",
        "customer_value",
        "p_churn_none",
        *[f"p_churn_{a}" for a in ACTIONS],
        "p_churn_observed",
        "logged_action",
        "logged_propensity",
        "p_satisfaction_drop",
    ]
    assert list(truth.columns) == expected
    assert ((truth["logged_propensity"] > 0) & (truth["logged_propensity"] <= 1)).all()
    untreated = truth["logged_action"] == "none"
    assert (truth.loc[untreated, "logged_propensity"] >= 0.5).all()  # treating is the exception
    probs = truth.filter(like="p_churn_")
    assert ((probs >= 0) & (probs <= 1)).all().all()
    assert truth["customer_id"].is_unique
    assert set(truth["logged_action"]) <= {"none", *ACTIONS}


def test_truth_rows_are_exactly_the_customers_active_at_the_cutoff():
    sim = simulate(SMALL)
    cutoff = sim.config.cutoff
    signed = sim.customers.loc[sim.customers["signup_time"] < cutoff, "customer_id"]
    ev = sim.events
    gone = ev.loc[(ev["event_type"] == "cancel") & (ev["event_time"] < cutoff), "customer_id"]
    active = set(signed.astype(str)) - set(gone.astype(str))
    truth_ids = set(sim.truth["customer_id"])
    assert truth_ids == active


def test_roc_auc_helper_matches_a_hand_example():
    assert roc_auc(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8])) == 0.75


def test_the_revenue_truth_follows_each_action_past_the_horizon():
    """With value_weeks, each action's revenue over the year; the rest of the truth unchanged."""
    base = simulate(replace(SMALL, customers=600)).truth
    truth = simulate(replace(SMALL, customers=600, value_weeks=52)).truth
    assert np.allclose(truth["p_churn_none"], base["p_churn_none"])
    weekly = truth["customer_value"] / 52  # customer_value: a year of monthly charges
    for action in ["none", *ACTIONS]:
        revenue = truth[f"revenue_{action}"]
        # never more than a year of charges; at least the horizon's weeks of whoever stays
        assert (revenue <= truth["customer_value"] + 1e-6).all()
        stays = 1 - truth[f"p_churn_{action}"]
        assert (revenue >= stays * weekly * 13 - 1e-6).all()
    # the effect wears off: a discount adds less than its 91-day saves at a full year's value
    saved = (truth["p_churn_none"] - truth["p_churn_discount"]) * truth["customer_value"]
    added = truth["revenue_discount"] - truth["revenue_none"]
    assert added.sum() < saved.sum()
