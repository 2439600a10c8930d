"""Scoring on Spark equals local scoring: the same customers, scores within 1e-9, the same
ranks, reasons and actions under the same budget and capacities."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cxml.jobs.ingest import run_simulate
from cxml.jobs.inputs import load_inputs
from cxml.jobs.score import load_scorer
from cxml.jobs.train import record, train
from cxml.scoring import scoring_population
from tests.model.test_scoring import small_config

pytestmark = pytest.mark.slow  # the fixture trains a model, then scores locally and on Spark

CUTOFF = pd.Timestamp("2025-06-30", tz="UTC")


@pytest.fixture(scope="module")
def scored_both(spark, tmp_path_factory):
    from cxml.jobs.spark_score import spark_score

    root = tmp_path_factory.mktemp("spark-score")
    data = root / "data"
    run_simulate(data, customers=2000, seed=21)  # as tests/model/test_scoring.py: offers pay
    config = small_config(data)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root}/mlflow.db")
        mp.chdir(root)
        record(train(config), config)
        scorer = load_scorer(config.tracking.model_name, "challenger")
    loaded = load_inputs(config)
    events, customers = loaded.tables["events"], loaded.tables["customers"]
    features = scorer.bundle.features(events, scoring_population(events, customers, CUTOFF), CUTOFF)
    scored_here = scorer.score(
        features, CUTOFF, 0.1, loaded.tables["actions"], False, experiment=config.experiment
    )  # with the run's control group and exploration, as `cxml score` draws them
    local = scored_here.frame().reset_index()
    scored, quarantine = spark_score(
        spark, scorer, str(data), CUTOFF, 0.1, buckets=6, experiment=config.experiment
    )
    remote = scored.toPandas()
    assert quarantine.count() == 0
    by_id = lambda f: f.sort_values("customer_id").reset_index(drop=True)  # noqa: E731
    return by_id(local), by_id(remote), config, root


def test_spark_scores_the_same_customers_within_1e9(scored_both):
    local, remote, _, _ = scored_both
    assert list(remote.columns) == list(local.columns)
    assert list(remote["customer_id"]) == list(local["customer_id"])
    for column in ("churn_probability", "satisfaction_drop_probability", "action_expected_gain"):
        np.testing.assert_allclose(remote[column], local[column], rtol=0, atol=1e-9)
    assert (remote["churn_rank"].to_numpy() == local["churn_rank"].to_numpy()).all()
    assert (remote["churn_risk_band"] == local["churn_risk_band"]).all()


def test_spark_explains_and_acts_identically(scored_both):
    local, remote, _, _ = scored_both
    same = ["explained", "reason_1", "reason_2", "reason_3", "action", "runner_up_action"]
    same += ["action_decision", "policy_action", "decision_id"]  # the same control group
    np.testing.assert_allclose(remote["action_propensity"], local["action_propensity"], atol=1e-12)
    pd.testing.assert_frame_equal(remote[same], local[same])
    assert remote["explained"].sum() == int(np.ceil(0.1 * len(local)))
    treated = remote[remote["action"] != "none"]
    assert len(treated) > 0  # the budget is used, so the comparison says something
    assert treated["action_cost"].sum() == pytest.approx(local["action_cost"].sum(), abs=1e-9)


def test_spark_score_writes_the_list_partitioned_by_risk_band(scored_both, monkeypatch):
    from cxml.jobs.scorings import KEPT, earlier_scorings
    from cxml.jobs.spark_score import run_spark_score

    local, _, config, root = scored_both
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root}/mlflow.db")
    monkeypatch.chdir(root)
    done = run_spark_score(config, "2025-06-30", str(root / "out"), "challenger", 0.1)
    bands = sorted(p.name for p in (root / "out" / "scored").glob("churn_risk_band=*"))
    assert bands == sorted(f"churn_risk_band={b}" for b in local["churn_risk_band"].unique())
    written = pd.read_parquet(root / "out" / "scored")
    assert len(written) == done.customers == len(local)
    assert not {"name", "email"} & set(written.columns)
    assert done.spent == pytest.approx(local["action_cost"].sum(), abs=1e-9)
    assert not list((root / "out").glob(".*"))  # no temporary folders left behind
    [scoring] = earlier_scorings(config.tracking.model_name)  # registered as a local run is
    assert scoring.cutoff == CUTOFF and scoring.model_version == "1"
    assert len(scoring.rows) == len(local) and list(scoring.rows.columns) == KEPT
    by_id = scoring.rows.set_index("customer_id").sort_index()
    np.testing.assert_allclose(by_id["churn_probability"], local["churn_probability"], atol=1e-9)
