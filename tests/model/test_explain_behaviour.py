"""Reason codes tell the story the data was made with: in the simulator unresolved tickets drive
churn, so customers with open tickets should hear about support tickets in their top reasons,
and customers without any should rarely do."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from cxml.config import PipelineConfig, load_config
from cxml.jobs.ingest import run_simulate
from cxml.jobs.train import train
from cxml.models import explain
from tests.helpers import SMALL_SURVIVAL

PIPELINES = Path(__file__).resolve().parents[2] / "pipelines"
TOP = 3


def churn_config(data_dir: Path) -> PipelineConfig:
    """The demo pipeline, churn only, on a small budget (the behaviour, not the best AUC)."""
    config = load_config(PIPELINES / "demo.yaml", data_dir=data_dir)
    raw = config.model_dump()
    raw["model"] |= {
        "max_rounds": 60,
        "early_stopping_rounds": 20,
        "threads": 1,
        "survival_periods": SMALL_SURVIVAL,
    }
    raw["cutoffs"]["first"] = "2024-07-01"
    raw["targets"] = ["churn"]
    return PipelineConfig.model_validate(raw)


@pytest.fixture(scope="module")
def explained(tmp_path_factory) -> tuple[pd.DataFrame, pd.DataFrame]:
    path = tmp_path_factory.mktemp("sim") / "data"
    run_simulate(path, customers=3000, seed=7)
    bundle = train(churn_config(path)).bundle
    events = pd.read_parquet(path / "events.parquet")
    customers = pd.read_parquet(path / "customers.parquet")
    features = bundle.features(events, customers, "2025-06-30")
    contrib = explain.contributions(bundle, "churn", bundle.encode(features))[:, :-1]
    infos = explain.feature_infos(bundle.catalog)
    reasons = explain.reason_columns(contrib, bundle.feature_names, features, infos, k=TOP)
    return features.frame(), pd.DataFrame(reasons, index=features.index)


def _mentions_support(reasons: pd.DataFrame) -> pd.Series:
    families = reasons[[f"reason_family_{i}" for i in range(1, TOP + 1)]]
    texts = reasons[[f"reason_{i}" for i in range(1, TOP + 1)]]
    by_text = texts.apply(lambda column: column.str.contains("support tickets")).any(axis=1)
    return (families == "support").any(axis=1) | by_text


def test_customers_with_unresolved_tickets_hear_about_support_far_more_often(explained):
    features, reasons = explained
    support = _mentions_support(reasons)
    open_tickets = features["n_unresolved_ticket_90d"] >= 1
    none = features["n_unresolved_ticket_365d"] == 0
    with_rate, without_rate = support[open_tickets].mean(), support[none].mean()
    print(
        f"support reason in top {TOP}: {with_rate:.1%} of {open_tickets.sum()} customers with "
        f"unresolved tickets (90d) vs {without_rate:.1%} of {none.sum()} with none (365d)"
    )
    assert open_tickets.sum() >= 50 and none.sum() >= 500
    assert with_rate >= 0.6
    assert with_rate >= 3 * without_rate
