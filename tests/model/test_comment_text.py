"""Comments on simulated data: the sentiment feature follows the survey scores, and a model trained
with labelled topic examples keeps its classifier (not the examples) and counts topics online as
the batch did."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml

from cxml.config import load_config
from cxml.features.build import build_features
from cxml.jobs.ingest import run_simulate
from cxml.jobs.train import record, train
from tests.helpers import SMALL_SURVIVAL

REPO = Path(__file__).resolve().parents[2]
LABELLED = REPO / "tests" / "data" / "customer_comments.csv"
CUTOFF = "2025-06-30"


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("comments") / "data"
    run_simulate(data, customers=2000, seed=5)
    return data


def test_the_simulators_comments_give_a_sentiment_that_follows_the_nps(simulated):
    events = pd.read_parquet(simulated / "events.parquet")
    customers = pd.read_parquet(simulated / "customers.parquet")
    frame = build_features(events, customers, CUTOFF).frame()
    both = frame[["comment_sentiment_90d", "nps_last_365d"]].dropna()
    assert len(both) > 100
    assert np.corrcoef(both.iloc[:, 0], both.iloc[:, 1])[0, 1] > 0.6


def test_a_model_trained_with_topic_examples_keeps_the_classifier_not_them(simulated, tmp_path):
    raw = yaml.safe_load((REPO / "pipelines" / "demo.yaml").read_text(encoding="utf-8"))
    raw.pop("actions")
    raw["targets"] = ["churn"]
    raw["data"] = {"dir": str(simulated)}
    raw["features"]["topics"] = {"price": ["expensive", "price"], "service": ["support"]}
    raw["features"]["topic_examples"] = str(LABELLED)
    raw["model"] |= {
        "max_rounds": 60,
        "early_stopping_rounds": 10,
        "threads": 1,
        "survival_periods": SMALL_SURVIVAL,
    }
    raw["cutoffs"]["first"] = "2024-10-01"
    path = tmp_path / "topics.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    config = load_config(path)
    assert len(config.features.topic_examples) >= 200
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
        mp.chdir(tmp_path)
        trained = train(config, show_progress=False)
        run = record(trained, config, show_progress=False)
        logged = Path(mlflow.artifacts.download_artifacts(run_id=run.run_id)) / "config.json"
        from cxml.jobs.score import load_scorer

        bundle = load_scorer(run.model_name, run.version).bundle
    kept = bundle.feature_config
    assert kept.topic_examples == () and kept.topic_model is not None
    assert {"price", "service", "billing", "delivery"} <= set(kept.topic_model.topics)
    examples = [t for t in pd.read_csv(LABELLED)["text"] if len(t) > 20]  # not "ok"
    spec, written = json.dumps(bundle.spec), logged.read_text(encoding="utf-8")
    assert not [t for t in examples if t in spec or t in written]  # no example text kept
    assert "topic_model" in written
    # the simulator's price and support complaints are counted under their topics, and one
    # customer's history read through the registered model gives the batch's counts
    events = pd.read_parquet(simulated / "events.parquet")
    customers = pd.read_parquet(simulated / "customers.parquet")
    batch = bundle.features(events, customers, CUTOFF).frame()
    topics = [c for c in batch.columns if c.startswith("n_topic_")]
    assert batch["n_topic_price_90d"].sum() > 0 and batch["n_topic_service_90d"].sum() > 0
    assert {"n_topic_price_90d", "n_topic_service_90d"} & set(bundle.feature_names)
    busy = batch["n_topic_price_90d"].idxmax()
    mine = events[events["customer_id"] == busy]
    one = bundle.features(mine, customers[customers["customer_id"] == busy], CUTOFF).frame()
    pd.testing.assert_frame_equal(one[topics], batch.loc[[busy], topics])
