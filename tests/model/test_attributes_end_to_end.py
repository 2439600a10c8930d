"""A data dir with an attribute history trains, scores and answers /predict_by_id, reading each
attribute as it was at each cutoff: small simulated data with a plan history added (some
customers moved to their current plan in the middle of the training cutoffs), a numeric
monthly charge history, and a new attribute the customers table has no column for."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from cxml.config import PipelineConfig, load_config
from cxml.jobs.ingest import run_simulate
from cxml.jobs.score import load_scorer, run_score
from cxml.jobs.train import record, train
from cxml.serving.history import History
from cxml.serving.tables import scored_rows
from tests.helpers import SMALL_SURVIVAL

PIPELINES = Path(__file__).resolve().parents[2] / "pipelines"
CHANGE = pd.Timestamp("2025-01-15", tz="UTC")  # when the movers took their current plan
TIER_FROM = pd.Timestamp("2024-10-01", tz="UTC")  # when the loyalty tiers were given
BEFORE, AFTER = pd.Timestamp("2024-12-01", tz="UTC"), pd.Timestamp("2025-02-01", tz="UTC")
SCORE_AT = "2025-06-30"
EARLIER_PLAN = {"basic": "standard", "standard": "basic", "premium": "standard"}
EARLIER_CHARGE = {"basic": 45.0, "standard": 20.0, "premium": 45.0}


def small_config(data_dir: Path) -> PipelineConfig:
    raw = load_config(PIPELINES / "demo.yaml", data_dir=data_dir).model_dump()
    raw["model"] |= {
        "max_rounds": 100,
        "early_stopping_rounds": 20,
        "threads": 1,
        "survival_periods": SMALL_SURVIVAL,
    }
    raw["cutoffs"]["first"] = "2024-07-01"
    raw["actions"]["drop_retreated"] = False  # a small base: keep every row
    return PipelineConfig.model_validate(raw)


def _movers(customers: pd.DataFrame) -> pd.DataFrame:
    every_third = customers.iloc[::3]
    return every_third[every_third["signup_time"] < CHANGE]


def attribute_history(customers: pd.DataFrame) -> pd.DataFrame:
    """Every third customer who joined before CHANGE was on another plan (and charge) from
    signup until CHANGE; every fifth got a loyalty tier, a new attribute, at TIER_FROM."""
    movers = _movers(customers)
    signup = movers["signup_time"]
    plan = movers["plan"].astype(str)
    rows = [
        pd.DataFrame({"attribute": "plan", "value": plan.map(EARLIER_PLAN), "valid_from": signup}),
        pd.DataFrame({"attribute": "plan", "value": plan, "valid_from": CHANGE}),
        pd.DataFrame(
            {
                "attribute": "monthly_charge",
                "value": plan.map(EARLIER_CHARGE).astype(str),
                "valid_from": signup,
            }
        ),
        pd.DataFrame(
            {
                "attribute": "monthly_charge",
                "value": movers["monthly_charge"].astype(str),
                "valid_from": CHANGE,
            }
        ),
    ]
    history = pd.concat([r.assign(customer_id=movers["customer_id"]) for r in rows])
    tiered = customers.iloc[::5]
    tiers = pd.DataFrame(
        {
            "customer_id": tiered["customer_id"],
            "attribute": "loyalty_tier",
            "value": ["gold", "silver"] * (len(tiered) // 2) + ["gold"] * (len(tiered) % 2),
            "valid_from": TIER_FROM,
        }
    )
    history = pd.concat([history, tiers], ignore_index=True)
    return history[["customer_id", "attribute", "value", "valid_from"]]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("attributes")
    data = root / "data"
    run_simulate(data, customers=1500, seed=23)
    customers = pd.read_parquet(data / "customers.parquet")
    history = attribute_history(customers)
    history.to_parquet(data / "attributes.parquet")
    config = small_config(data)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root}/mlflow.db")
        mp.chdir(root)
        trained = train(config)
        record(trained, config)
        scored, _ = run_score(config, SCORE_AT, root / "out")
        scorer = load_scorer(config.tracking.model_name)
        yield config, data, root / "out", customers, trained, scored, scorer


def test_the_record_names_the_attributes_with_history_and_the_static_ones(run):
    _, _, _, _, trained, _, _ = run
    assert trained.bundle.info["attributes"] == {
        "with_history": ["loyalty_tier", "monthly_charge", "plan"],
        "static": ["age", "contract", "payment_method", "region", "segment"],
    }
    assert "profile_loyalty_tier" in trained.bundle.feature_names
    assert trained.summary["quarantined_rows"] == 0


def test_training_reads_each_cutoffs_plan_not_todays(run):
    _, _, _, customers, trained, _, _ = run
    frame = trained.frame
    movers = _movers(customers).set_index("customer_id")
    for cutoff, expected in ((BEFORE, "earlier"), (AFTER, "now")):
        rows = frame.xs(cutoff, level="cutoff")
        seen = rows.index.intersection(movers.index)
        assert len(seen) > 100
        now = movers.loc[seen, "plan"].astype(str)
        want = now.map(EARLIER_PLAN) if expected == "earlier" else now
        assert (rows.loc[seen, "profile_plan"] == want).all()
    stayers = customers.iloc[1::3].set_index("customer_id")  # no history: static
    rows = frame.xs(BEFORE, level="cutoff")
    seen = rows.index.intersection(stayers.index)
    assert (rows.loc[seen, "profile_plan"] == stayers.loc[seen, "plan"].astype(str)).all()
    tier = frame.xs(pd.Timestamp("2024-10-01", tz="UTC"), level="cutoff")["profile_loyalty_tier"]
    assert tier.isna().all()  # given at exactly this cutoff: not yet seen
    assert frame.xs(BEFORE, level="cutoff")["profile_loyalty_tier"].notna().any()


def test_the_data_dir_scores_and_the_report_names_the_static_attributes(run):
    _, _, out, _, _, scored, _ = run
    assert len(scored) > 500 and scored["churn_probability"].between(0, 1).all()
    html = (out / "report.html").read_text()
    assert "assumed constant over time" in html
    assert "age, contract, payment_method, region, segment" in html
    assert "loyalty_tier, monthly_charge, plan" in html


def test_predict_by_id_reads_the_attributes_as_of_the_request(run):
    config, data, _, customers, _, _, scorer = run
    history = History.load(data, config.features.pii_columns)
    movers = _movers(customers)
    mover = movers[movers["signup_time"] < BEFORE].iloc[1]  # a mover there before BEFORE
    cid = str(mover["customer_id"])
    found = history.find([cid])
    earlier = found.profile(BEFORE.to_pydatetime())
    later = found.profile(AFTER.to_pydatetime())
    assert earlier["plan"].iloc[0] == EARLIER_PLAN[str(mover["plan"])]
    assert later["plan"].iloc[0] == str(mover["plan"])
    assert list(earlier.columns)[-1] == "loyalty_tier"  # the model's column, though unknown
    rows = scored_rows(scorer, found.events, earlier, BEFORE.to_pydatetime())
    assert rows[0]["customer_id"] == cid and 0 <= rows[0]["churn_probability"] <= 1
