"""Optional columns are optional everywhere: a data dir whose events carry no `value`, `channel`
or `text` (and whose actions log no `channel`, `cost` or `propensity`) validates, trains,
registers and scores, report included. Its customers also carry e-mail addresses under a name
no PII list has: found by their values, they are never used. Its actions are valued by the
lifetime rule (the fixed rule is the demo's, tests/model/test_scoring.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from cxml.cli import app
from cxml.config import PipelineConfig, load_config
from cxml.jobs.ingest import run_simulate
from cxml.jobs.score import run_score
from cxml.jobs.train import record, train
from tests.helpers import SMALL_SURVIVAL

PIPELINES = Path(__file__).resolve().parents[2] / "pipelines"
CUTOFF = "2025-06-30"
DROPPED = {"events": ["value", "channel", "text"], "actions": ["channel", "cost", "propensity"]}


@pytest.fixture(scope="module")
def bare(tmp_path_factory) -> Path:
    """The simulator's output with every optional events and actions column dropped."""
    data = tmp_path_factory.mktemp("bare") / "data"
    run_simulate(data, customers=1500, seed=5)
    for table, columns in DROPPED.items():
        path = data / f"{table}.parquet"
        pd.read_parquet(path).drop(columns=columns).to_parquet(path)
    customers = pd.read_parquet(data / "customers.parquet")  # a column PII by its values only
    customers["work_contact"] = "desk." + customers["customer_id"] + "@example.org"
    customers.to_parquet(data / "customers.parquet")
    return data


def small_config(data_dir: Path) -> PipelineConfig:
    raw = load_config(PIPELINES / "demo.yaml", data_dir=data_dir).model_dump()
    raw["model"] |= {
        "max_rounds": 60,
        "early_stopping_rounds": 10,
        "threads": 1,
        "survival_periods": SMALL_SURVIVAL,
    }
    raw["cutoffs"]["first"] = "2024-10-01"
    raw["actions"]["value"] |= {"rule": "lifetime", "margin": 0.6}
    return PipelineConfig.model_validate(raw)


def test_a_data_dir_without_optional_columns_validates(bare, tmp_path):
    result = CliRunner().invoke(app, ["validate", str(bare), "--quarantine-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "valid: the data dir meets the contract" in result.output


def test_a_data_dir_without_optional_columns_trains_and_scores(bare, tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    monkeypatch.chdir(tmp_path)
    config = small_config(bare)
    trained = train(config)
    assert trained.metrics["churn_roc_auc"] > 0.5
    # no survey scores, so no satisfaction-drop labels: that model is left out, not failed
    assert "satisfaction_drop_roc_auc" not in trained.metrics
    # e-mail addresses under a name no PII list has: found by their values, never a feature
    assert trained.summary["pii_lookalikes_left_out"] == {"work_contact": "e-mail addresses"}
    assert not [f for f in trained.bundle.feature_names if "work_contact" in f]
    record(trained, config)
    scored, written = run_score(config, CUTOFF, tmp_path / "out")
    assert "@example.org" not in (tmp_path / "out" / "scored.csv").read_text()
    assert len(scored) > 0 and scored["churn_probability"].between(0, 1).all()
    assert scored["action"].isin([*config.actions.names, "none"]).all()
    # the lifetime rule: a save is worth the margin of the months a kept customer stays, at
    # most a year of it, and the gain is reckoned on that value
    value = config.actions.value
    charge = pd.read_parquet(bare / "customers.parquet").set_index("customer_id")
    paid = charge.loc[scored["customer_id"], "monthly_charge"].to_numpy() * value.margin
    kept = scored["customer_value"].to_numpy()
    assert (kept >= 0).all() and (kept <= 12 * paid + 1e-6).all() and (kept < 12 * paid).any()
    assert (scored["lifetime_value"] <= kept + 1e-6).all()  # from today: it may leave before
    acted = scored[scored["action"] != "none"]
    assert len(acted) > 0
    gain = acted["action_uplift"] * acted["customer_value"] - acted["action_cost"]
    assert np.allclose(acted["action_expected_gain"], gain)
    assert {p.name for p in written} >= {"scored.parquet", "scored.csv", "report.html"}
    html = (tmp_path / "out" / "report.html").read_text()
    assert "no survey answers in the period" in html  # the NPS tile, without scores
    assert "Lifetime value at risk" in html and "Where to act" in html
