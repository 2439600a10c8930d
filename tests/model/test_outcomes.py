"""`cxml outcomes` recovers a known effect: decisions with a control group, then a world in which
the action really cuts churn from 30% to 20% among the customers it was aimed at."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from cxml.cli import app
from cxml.jobs.outcomes import earlier_decisions
from cxml.report.context import ReportContext
from cxml.report.evidence import decisions
from cxml.report.page import environment

runner = CliRunner()
CUTOFF = pd.Timestamp("2024-06-01", tz="UTC")
N, AIMED, HELD = 6000, 4000, 0.2
CHURN_CONTROL, CHURN_TREATED, CHURN_NOT_AIMED = 0.30, 0.20, 0.25


def world(folder: Path, seed: int = 0, days_after: int = 120) -> Path:
    """A data dir and the decisions of a run at CUTOFF; the data reaches `days_after` past it."""
    rng = np.random.default_rng(seed)
    ids = np.array([f"K{i:05d}" for i in range(N)], dtype=object)
    aimed = np.arange(N) < AIMED
    control = aimed & (rng.random(N) < HELD)
    treated = aimed & ~control
    p = np.where(treated, CHURN_TREATED, np.where(control, CHURN_CONTROL, CHURN_NOT_AIMED))
    churn = rng.random(N) < p
    data = folder / "data"
    data.mkdir(parents=True)
    signup = pd.Timestamp("2023-01-01", tz="UTC")
    pd.DataFrame({"customer_id": ids, "signup_time": signup}).to_parquet(data / "customers.parquet")
    before = pd.DataFrame(
        {"customer_id": ids, "event_time": CUTOFF - pd.Timedelta(days=20), "event_type": "login"}
    )
    cancels = pd.DataFrame(
        {
            "customer_id": ids[churn],
            "event_time": CUTOFF + pd.Timedelta(days=30),
            "event_type": "cancel",
        }
    )
    stayers = ids[~churn]
    later = pd.DataFrame(
        {
            "customer_id": stayers,
            "event_time": CUTOFF + pd.Timedelta(days=days_after),
            "event_type": "login",
        }
    )
    pd.concat([before, cancels, later]).to_parquet(data / "events.parquet")
    decisions = pd.DataFrame(
        {
            "customer_id": ids,
            "action_time": CUTOFF,
            "action": np.where(treated, "call", "none"),
            "channel": np.where(treated, "phone", None),
            "cost": np.where(treated, 5.0, 0.0),
            "propensity": np.where(treated, 1 - HELD, np.where(control, HELD, 1.0)),
            "decision": np.where(control, "control", "policy"),
            "policy_action": np.where(aimed, "call", "none"),
            "decision_id": [f"d{i}" for i in range(N)],
            "customer_value": 100.0,
            "expected_gain": np.where(treated, 0.12 * 100 - 5, 0.0),
            "uplift": np.where(aimed, 0.12, 0.0),
            "churn_probability": np.where(aimed, 0.3, 0.25),
            "model_version": "1",
        }
    )
    decisions.to_parquet(folder / "decisions.parquet")
    (folder / "pipeline.yaml").write_text(
        f"name: outcomes\ndata: {{dir: {data}}}\nlabels: {{horizon_days: 90}}\n"
        "tracking: {experiment: outcomes, model_name: outcomes}\n",
        encoding="utf-8",
    )
    return folder


def invoke(folder: Path) -> object:
    args = ["outcomes", "--config", str(folder / "pipeline.yaml"), "--decisions",
            str(folder / "decisions.parquet"), "--out", str(folder / "out")]  # fmt: skip
    return runner.invoke(app, args, env={"MLFLOW_TRACKING_URI": f"sqlite:///{folder}/m.db"})


@pytest.mark.parametrize("seed", [1, 2])
def test_outcomes_recover_the_true_effect_within_their_interval(tmp_path, seed):
    folder = world(tmp_path, seed)
    result = invoke(folder)
    assert result.exit_code == 0, result.output
    by_action = pd.read_csv(folder / "out" / "outcomes_by_action.csv").set_index("action")
    call = by_action.loc["call"]
    true = CHURN_CONTROL - CHURN_TREATED
    assert call["low"] <= true <= call["high"], call
    assert call["low"] > 0  # the effect is found, not only allowed
    assert call["treated"] + call["control"] == AIMED
    values = pd.read_csv(folder / "out" / "outcomes_policy_value.csv")
    impact = values[values["policy"] == "policy - no action"].set_index("estimator")
    whole = true * AIMED / N  # retained share the policy adds over the whole run
    for estimator in ("ips", "dr"):
        assert impact.loc[estimator, "low"] <= whole <= impact.loc[estimator, "high"], impact
    assert "churn avoided" in result.output and "Traceback" not in result.output


def test_an_open_outcome_window_stops_with_the_date_it_closes(tmp_path):
    folder = world(tmp_path, days_after=45)  # the 90-day window closes 2024-08-30
    result = invoke(folder)
    assert result.exit_code == 2, result.output
    assert "closes 2024-08-30" in result.output and "Traceback" not in result.output
    assert not (folder / "out" / "outcomes_by_action.csv").exists()


def test_the_next_report_shows_how_the_decisions_turned_out(tmp_path, monkeypatch):
    folder = world(tmp_path, seed=3)
    assert invoke(folder).exit_code == 0
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{folder}/m.db")
    found = earlier_decisions("outcomes")  # from the MLflow run `cxml outcomes` logged
    assert found is not None and set(found["action"]) == {"all", "call"}
    view = decisions(pd.DataFrame(), ReportContext(decisions=found))
    html = environment().get_template("sections/decisions.html.j2").render(view)
    assert "2024-06-01" in html and "call" in html and "pts" in html
    assert "K0" not in html  # aggregates only: no customer id


def test_a_wrong_decisions_file_is_refused_with_what_to_pass(tmp_path):
    folder = world(tmp_path, days_after=120)
    missing = runner.invoke(app, ["outcomes", "--config", str(folder / "pipeline.yaml"),
                                  "--decisions", str(folder / "nope.parquet"),
                                  "--out", str(folder / "out")])  # fmt: skip
    assert missing.exit_code == 2 and "nope.parquet: no such file" in missing.output
    scored_list = pd.read_parquet(folder / "decisions.parquet").drop(columns=["propensity"])
    scored_list.to_parquet(folder / "list.parquet")
    wrong = runner.invoke(app, ["outcomes", "--config", str(folder / "pipeline.yaml"),
                                "--decisions", str(folder / "list.parquet"),
                                "--out", str(folder / "out")])  # fmt: skip
    assert wrong.exit_code == 2 and "column(s) propensity missing" in wrong.output
    assert "Traceback" not in missing.output + wrong.output
