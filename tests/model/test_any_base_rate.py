"""A base where 70% churn (inactivity, a week's horizon): the risk bands still split it, the
report's retention follows the churn definition, and the base rate comes from training rows."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from cxml.config import PipelineConfig, load_config
from cxml.data.load import load_data_dir
from cxml.features.labels import churn_labels
from cxml.jobs.ingest import run_simulate
from cxml.jobs.score import run_score
from cxml.jobs.train import record, train
from cxml.scoring import band_edges
from tests.helpers import SMALL_SURVIVAL

PIPELINES = Path(__file__).resolve().parents[2] / "pipelines"
CUTOFF = "2025-06-30"


def weekly_buyers(data_dir: Path) -> PipelineConfig:
    raw = load_config(PIPELINES / "demo.yaml", data_dir=data_dir).model_dump()
    raw["model"] |= {
        "max_rounds": 80,
        "early_stopping_rounds": 20,
        "threads": 1,
        "survival_periods": SMALL_SURVIVAL,
    }
    raw["cutoffs"]["first"] = "2024-10-01"
    raw["targets"] = ["churn"]
    raw["labels"] |= {
        "horizon_days": 7,
        "churn": "inactivity",
        "activity_types": ["purchase"],
        "lookback_days": 90,
    }
    raw["actions"] = None
    raw["tracking"] = {"experiment": "high-churn", "model_name": "high-churn"}
    return PipelineConfig.model_validate(raw)


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    root = tmp_path_factory.mktemp("high-churn")
    run_simulate(root / "data", customers=2000, seed=5)
    config = weekly_buyers(root / "data")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root}/mlflow.db")
        mp.chdir(root)
        trained = train(config)
        record(trained, config)
        listed, _ = run_score(config, CUTOFF, root / "out")
    return config, trained, listed, (root / "out" / "report.html").read_text()


def test_the_base_rate_is_the_training_rows_and_is_high(scored):
    _, trained, _, _ = scored
    assert 0.55 < trained.summary["churn_rate"] < 0.85
    assert trained.summary["training_rows"] < len(trained.frame)  # the test rows are not in it


def test_bands_split_a_high_churn_base(scored):
    _, trained, listed, _ = scored
    high, medium = band_edges(trained.summary["churn_rate"])
    assert trained.summary["churn_rate"] < medium < high < 1
    counts = listed["churn_risk_band"].value_counts()
    assert counts.get("high", 0) > 0 and counts.get("low", 0) > 0
    by_band = listed.groupby("churn_risk_band")["churn_probability"]
    assert by_band.min()["high"] >= high > by_band.max()["medium"]


def test_the_report_counts_high_risk_and_retention_by_the_churn_definition(scored, tmp_path):
    config, _, listed, html = scored
    high = int((listed["churn_risk_band"] == "high").sum())
    text = re.sub(r"<[^>]+>", " ", html)
    assert re.search(rf"High risk\s+{high:,}", text), "the high-risk card shows the count"
    tables = load_data_dir(config.data.dir).tables
    before = pd.Timestamp(CUTOFF, tz="UTC") - pd.Timedelta(days=7)
    realised = churn_labels(tables["events"], tables["customers"], before, config.labels)
    kept = 1 - realised.mean()
    assert kept < 0.5  # most stopped buying within the week: retention says so
    assert f"{kept:.0%}" in text or f"{kept:.1%}" in text
    assert "no purchase within 7 days" in text
