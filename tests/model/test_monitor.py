"""`cxml monitor` end to end on small simulated data: train and register a model, score at an
early cutoff into one folder (which registers the scoring in MLflow), then monitor later into
another folder: no alert on the data the model was trained on, an alert naming the threshold
when a shift is injected, and the earlier scoring found through the registry and judged."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import mlflow
import pandas as pd
import pytest
import yaml
from sklearn.metrics import roc_auc_score
from typer.testing import CliRunner

from cxml.cli import EXIT_ALERT, EXIT_BAD_INPUT, app
from cxml.features.labels import churn_labels
from cxml.jobs.ingest import run_simulate
from cxml.jobs.score import run_score
from cxml.jobs.scorings import ARTIFACT, KEPT
from cxml.jobs.train import record, train
from tests.model.test_scoring import small_config

pytestmark = pytest.mark.slow  # one training, then several scorings and monitorings

EARLY = "2025-05-01"  # its 91-day outcome window closes inside the simulated log
runner = CliRunner()


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("monitor")
    data = root / "data"
    run_simulate(data, customers=2000, seed=21)
    config = small_config(data)
    path = root / "pipeline.yaml"
    path.write_text(yaml.safe_dump(config.model_dump(mode="json")))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root}/mlflow.db")
        mp.chdir(root)
        record(train(config), config)
        run_score(config, EARLY, root / "A")
        yield config, path, root


def _monitor(path: Path, out: Path, *extra: str):
    result = runner.invoke(app, ["monitor", "--config", str(path), "--out", str(out), *extra])
    assert "Traceback" not in result.output, result.output
    return result


@pytest.fixture(scope="module")
def calm(setup):
    """Monitored on the very data it was trained on, into a folder of its own."""
    _, path, root = setup
    result = _monitor(path, root / "B")
    return result, json.loads((root / "B" / "monitor.json").read_text())


def test_the_data_it_was_trained_on_raises_no_alert(setup, calm):
    config, _, root = setup
    result, summary = calm
    assert result.exit_code == 0, result.output
    assert summary["alerts"] == [] and "alert:" not in result.output
    drift = summary["drift"]
    assert drift["features"] > 50 and drift["share"] <= config.monitor.max_drift_share
    expected = summary["expected"]
    assert abs(expected["test_auc"] - expected["expected_auc"]) < 0.03
    assert summary["cutoff"] == "2025-09-29T00:00:00+00:00"  # midnight after the last event
    html = (root / "B" / "monitor.html").read_text()
    for section in ("alerts", "drift", "expected", "earlier", "decisions", "thresholds"):
        assert f'id="{section}"' in html, section
    assert 'id="no-alert"' in html and html.count("data:image/png;base64,") == 6
    assert "<th>judged_scorings</th>" not in html and 'id="judged"' in html  # not a threshold
    assert "http://" not in html and "https://" not in html and "<script" not in html


def test_no_customer_detail_reaches_the_page_or_the_json(setup):
    _, _, root = setup
    customers = pd.read_parquet(root / "data" / "customers.parquet")
    texts = [(root / "B" / name).read_text() for name in ("monitor.html", "monitor.json")]
    for value in [*customers["email"].head(50), *customers["name"].head(50)]:
        assert all(value not in text for text in texts), value


def test_an_earlier_scoring_in_another_folder_is_found_through_the_registry(setup, calm):
    config, _, root = setup
    _, summary = calm
    assert not (root / "B" / "scored.parquet").exists()  # nothing shared between the folders
    [row] = summary["earlier"]
    assert row["cutoff"].startswith(EARLY) and row["source"].startswith("MLflow run ")
    # the realised numbers, computed here from A's list and who churned
    scored = pd.read_parquet(root / "A" / "scored.parquet").set_index("customer_id")
    data = root / "data"
    events, customers = (pd.read_parquet(data / f"{t}.parquet") for t in ("events", "customers"))
    churn = churn_labels(events, customers, pd.Timestamp(EARLY, tz="UTC"), config.labels)
    joined = scored.join(churn, how="inner")
    assert row["customers"] == len(joined) == len(scored)
    assert row["realised_churners"] == int(joined["churn"].sum())
    assert row["expected_churners"] == pytest.approx(joined["churn_probability"].sum())
    assert row["realised_auc"] == pytest.approx(
        roc_auc_score(joined["churn"], joined["churn_probability"])
    )
    assert 0.6 < row["realised_auc"] < 0.9
    # the simulator's campaigns after the cutoff reached customers the list recommended
    groups = {d["group"]: d for d in summary["decisions"]}
    assert groups["treated as recommended"]["customers"] > 0
    assert sum(d["customers"] for d in groups.values()) == int((scored["action"] != "none").sum())
    assert 'id="decisions-caveat"' in (root / "B" / "monitor.html").read_text()


def test_scorings_and_monitorings_are_recorded_in_mlflow_without_pii(setup, calm):
    config, _, root = setup
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{root}/mlflow.db")
    experiment = client.get_experiment_by_name(config.tracking.experiment)
    runs = client.search_runs([experiment.experiment_id], "tags.`cxml.kind` = 'scoring'")
    [scoring] = runs
    assert scoring.data.params["cutoff"].startswith(EARLY)
    assert scoring.data.params["out"] == str((root / "A").resolve())
    kept = pd.read_parquet(client.download_artifacts(scoring.info.run_id, ARTIFACT, str(root)))
    assert list(kept.columns) == KEPT  # ids, cutoff, probability, action, gain: no attribute
    assert len(kept) == len(pd.read_parquet(root / "A" / "scored.parquet"))
    [monitoring] = client.search_runs([experiment.experiment_id], "tags.`cxml.kind` = 'monitoring'")
    metrics = monitoring.data.metrics
    assert metrics["alerts"] == 0 and metrics["latest_realised_auc"] > 0.6
    assert metrics["expected_auc"] == pytest.approx(calm[1]["expected"]["expected_auc"])
    assert metrics["drift_share"] == pytest.approx(calm[1]["drift"]["share"])
    names = {a.path for a in client.list_artifacts(monitoring.info.run_id)}
    assert {"monitor.html", "monitor.json"} <= names


def test_a_shift_in_behaviour_raises_an_alert_naming_the_threshold(setup):
    config, path, root = setup
    shifted = root / "shifted"
    shutil.copytree(root / "data", shifted)
    events = pd.read_parquet(shifted / "events.parquet")
    purchases = events[events["event_type"] == "purchase"]  # every purchase now comes twice
    again = purchases.assign(event_time=purchases["event_time"] + pd.Timedelta(hours=1))
    pd.concat([events, again], ignore_index=True).to_parquet(shifted / "events.parquet")
    result = _monitor(path, root / "S", "--data", str(shifted))
    assert result.exit_code == EXIT_ALERT, result.output
    summary = json.loads((root / "S" / "monitor.json").read_text())
    crossed = {a["setting"]: a for a in summary["alerts"]}
    assert "max_drift_share" in crossed
    assert crossed["max_drift_share"]["value"] > config.monitor.max_drift_share
    assert "alert: " in result.output and "max_drift_share 0.1" in result.output
    drifted = [r["feature"] for r in summary["drift"]["table"] if r["crossed"]]
    assert {"n_purchase_30d", "n_purchase_90d"} <= set(drifted)


def test_a_folder_given_by_hand_counts_once_and_thresholds_come_from_the_config(setup):
    _, path, root = setup
    strict = root / "strict.yaml"
    raw = yaml.safe_load(path.read_text())
    raw["monitor"] = {"min_realised_auc": 0.95}
    strict.write_text(yaml.safe_dump(raw))
    result = _monitor(strict, root / "D", "--scored", str(root / "A"))
    assert result.exit_code == EXIT_ALERT, result.output
    summary = json.loads((root / "D" / "monitor.json").read_text())
    assert len(summary["earlier"]) == 1  # the registry's entry and the folder: one scoring
    assert [a["setting"] for a in summary["alerts"]] == ["min_realised_auc"]
    assert f"the scoring of {EARLY} realised AUC" in result.output
    missing = _monitor(path, root / "E", "--scored", str(root / "nowhere"))
    assert missing.exit_code == EXIT_BAD_INPUT
    assert "error: --scored" in missing.output and "no scored.parquet" in missing.output


def test_the_scoring_report_shows_the_registrys_earlier_scorings_too(setup):
    config, _, root = setup
    run_score(config, "2025-09-01", root / "C")
    html = (root / "C" / "report.html").read_text()
    assert 'id="earlier-none"' not in html
    assert f"<td>{EARLY}</td>" in html


def test_the_registrys_scorings_are_found_without_reading_their_rows(setup, monkeypatch):
    from cxml.jobs import uses
    from cxml.jobs.scorings import earlier_scorings

    config, _, _ = setup
    reads: list[str] = []
    read = uses.use_frame
    monkeypatch.setattr(uses, "use_frame", lambda *a: reads.append(a[0]) or read(*a))
    found = earlier_scorings(config.tracking.model_name)
    assert len(found) >= 2 and not reads  # each cutoff known from its run's parameters
    assert found[0].cutoff == pd.Timestamp(found[0].rows["cutoff"].iloc[0]) and len(reads) == 1
