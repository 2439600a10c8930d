"""Training end to end on small simulated data: honest split, deterministic, registered in a
real (temporary) MLflow store and loaded back by alias with identical predictions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cxml.config import PipelineConfig, load_config
from cxml.jobs.ingest import run_simulate
from cxml.jobs.inputs import load_inputs
from cxml.jobs.logged import table_digest
from cxml.jobs.nba import fit_uplift
from cxml.jobs.train import record, train
from tests.helpers import SMALL_SURVIVAL

PIPELINES = Path(__file__).resolve().parents[2] / "pipelines"


def small_config(data_dir: Path) -> PipelineConfig:
    """The demo pipeline on a small data dir, with a small model budget."""
    config = load_config(PIPELINES / "demo.yaml", data_dir=data_dir)
    raw = config.model_dump()
    raw["model"] |= {
        "max_rounds": 150,
        "early_stopping_rounds": 20,
        "threads": 1,
        "survival_periods": SMALL_SURVIVAL,
    }
    raw["cutoffs"]["first"] = "2024-07-01"
    return PipelineConfig.model_validate(raw)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("sim") / "data"
    run_simulate(path, customers=3000, seed=11)
    return path


@pytest.fixture(scope="module")
def trained(data_dir):
    return train(small_config(data_dir))


def test_every_training_label_window_closes_before_the_test_cutoff(trained):
    summary = trained.summary
    test = pd.Timestamp(summary["test_cutoffs"][0], tz="UTC")
    assert test == pd.Timestamp("2025-06-30", tz="UTC")  # the simulator's evaluation cutoff
    horizon = pd.Timedelta(days=91)
    for role in ("train_cutoffs", "validation_cutoffs"):
        for cutoff in summary[role]:
            assert pd.Timestamp(cutoff, tz="UTC") + horizon <= test
    test_rows = trained.backtest.results["churn"].index.get_level_values("cutoff")
    assert set(test_rows) == {test}


def test_out_of_time_metrics_are_real_and_beside_baseline_and_oracle(trained):
    m = trained.metrics
    for key in ("churn_roc_auc", "churn_baseline_roc_auc", "churn_oracle_roc_auc", "churn_ece"):
        assert np.isfinite(m[key]), key
    assert 0.6 < m["churn_roc_auc"] <= m["churn_oracle_roc_auc"] + 0.05
    assert m["churn_n"] == len(trained.backtest.results["churn"].y)
    assert "satisfaction_drop_roc_auc" in m
    assert {"churn_reliability", "churn_gains", "churn_by_segment"} <= set(trained.tables)


@pytest.mark.slow  # a second whole training
def test_same_config_and_seed_give_identical_metrics(trained, data_dir):
    again = train(small_config(data_dir))
    assert again.metrics == pytest.approx(trained.metrics, nan_ok=True, rel=0, abs=0)


def test_the_example_logged_to_mlflow_is_synthetic(trained, data_dir):
    ids = set(pd.read_parquet(data_dir / "customers.parquet")["customer_id"])
    assert not ids & set(trained.example.index)
    assert not {"name", "email"} & set(trained.example.columns)


def test_registered_model_loads_by_alias_with_identical_predictions(
    trained, data_dir, tmp_path, monkeypatch
):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    monkeypatch.chdir(tmp_path)
    from cxml.jobs import tracking

    config = small_config(data_dir)
    run = record(trained, config)
    assert run.promoted and run.version == "1"
    features = trained.backtest.results["churn"].index
    rows = _test_features(trained, data_dir).loc[features.get_level_values("customer_id")]
    expected = trained.bundle.predict(rows)
    loaded = tracking.load_model(config.tracking.model_name, "champion")
    pd.testing.assert_frame_equal(loaded.predict(rows), expected)
    pyfunc = tracking.load_pyfunc(config.tracking.model_name, "challenger")
    np.testing.assert_array_equal(
        np.asarray(pyfunc.predict(rows)["churn_probability"]), expected["churn_probability"]
    )


def test_the_mlflow_run_reads_as_a_record(trained, data_dir, tmp_path, monkeypatch):
    """A reader finds the settings as params, a description, the code version, and each input
    as a dataset with a digest over all its rows and no PII column."""
    from mlflow import MlflowClient

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    monkeypatch.chdir(tmp_path)
    config = small_config(data_dir)
    done = record(trained, config, show_progress=False)
    run = MlflowClient(f"sqlite:///{tmp_path}/mlflow.db").get_run(done.run_id)
    params = run.data.params
    assert params["cutoffs.test"] == "2025-06-30"
    assert params["labels.horizon_days"] == "91" and params["model.calibration"] == "auto"
    assert params["actions.learner"] == "offset" and float(params["actions.budget"]) == 20_000
    assert "churn: a cancellation within 91 days" in run.data.tags["mlflow.note.content"]
    assert run.data.tags["cxml.package_version"] not in ("", "unknown")
    inputs = {d.dataset.name: d for d in run.inputs.dataset_inputs}
    assert {"events", "customers", "actions", "training_rows"} <= set(inputs)
    customers = inputs["customers"].dataset
    assert customers.digest == table_digest(
        pd.read_parquet(data_dir / "customers.parquet").drop(columns=["name", "email"])
    )
    assert "email" not in customers.schema and "customer_id" in customers.schema
    assert {t.key: t.value for t in inputs["events"].tags}["rows"] == str(
        len(pd.read_parquet(data_dir / "events.parquet"))
    )


def test_a_table_digest_sees_every_row():
    frame = pd.DataFrame({"a": range(50_000), "b": ["x"] * 50_000})
    changed = frame.copy()
    changed.loc[49_999, "b"] = "y"  # past the first rows MLflow's own digest reads
    assert table_digest(frame) == table_digest(frame.copy())
    assert table_digest(frame) != table_digest(changed)


def _test_features(trained, data_dir: Path) -> pd.DataFrame:
    events = pd.read_parquet(data_dir / "events.parquet")
    customers = pd.read_parquet(data_dir / "customers.parquet")
    return trained.bundle.features(events, customers, "2025-06-30").frame()


def test_global_shap_plots_and_touchpoints_go_with_the_run(trained):
    for target in ("churn", "satisfaction_drop"):
        assert {f"{target}_shap_beeswarm", f"{target}_shap_bar", f"{target}_touchpoints"} <= set(
            trained.figures
        )
        table = trained.tables[f"{target}_touchpoints"]
        assert set(table["kind"]) == {"channel", "event_type"}
    assert any(name.startswith("churn_shap_dependence_") for name in trained.figures)


def test_policy_is_judged_against_truth_and_its_dr_estimate_covers_it(trained):
    m = trained.metrics
    table = trained.tables["nba_policies"].set_index("policy")
    assert {"cxml", "no_action", "top_risk_best_average", "random", "oracle"} <= set(table.index)
    budget = 20_000  # the demo pipeline's
    assert (table["spend"] <= budget + 1e-6).all()
    assert table.at["oracle", "true_value"] >= table.at["cxml", "true_value"]
    assert m["nba_cxml_dr_low"] <= m["nba_cxml_true_value"] <= m["nba_cxml_dr_high"]
    # every simple policy valued the same way, and the learned one's paired difference with each
    for policy in ("no_action", "top_risk_best_average", "everyone_best_average"):
        assert table.at[policy, "dr_low"] <= table.at[policy, "dr_high"]
        low, high = table.at[policy, "learned_minus_low"], table.at[policy, "learned_minus_high"]
        assert low <= table.at[policy, "learned_minus_value"] <= high
    fallback = trained.bundle.info["policy_fallback"]
    assert (fallback is not None) == (m["nba_fallback"] == 1.0)
    deciles = trained.tables["uplift_deciles"]  # the promise against the truth, by decile
    assert list(deciles["decile"]) == list(range(1, 11))
    assert (np.diff(deciles["predicted_uplift"]) >= -1e-12).all()  # sorted by it (float sums)
    assert deciles["true_uplift"].notna().all()
    assert len(trained.bundle.info["uplift_deciles"]) == 10


def test_uplift_leaves_out_the_windows_a_later_campaign_reached(trained, data_dir):
    m = trained.metrics  # the simulator's campaigns run every 4 weeks inside a 13-week window
    assert m["uplift_rows_retreated"] > 0
    assert m["uplift_rows_weight_max"] > 1  # the rows kept stand in for those left out
    raw = small_config(data_dir).model_dump()
    raw["actions"]["drop_retreated"] = False
    keep = PipelineConfig.model_validate(raw)
    _, kept, _ = fit_uplift(keep, load_inputs(keep), pd.Timestamp("2025-06-30", tz="UTC"))
    assert kept["uplift_rows"] == m["uplift_rows"] + m["uplift_rows_retreated"]
