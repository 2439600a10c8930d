"""MLflow tracking: runs, artifacts, champion/challenger aliases, rollback and the PII guard.

One sqlite store per module: creating it (schema migrations) costs seconds, a run ~0.5 s.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from mlflow import MlflowClient
from sklearn.linear_model import LogisticRegression

from cxml.jobs import logged, tracking
from cxml.jobs.store import tracking_uri
from cxml.jobs.tracking import RunRecord, log_training

FEATURES = ["tenure_days", "tickets_90d", "spend_30d"]


class ChurnModel:
    """A tiny real model: logistic regression on random numeric features.

    predict works on a C-ordered copy: BLAS rounds differently (1 ulp) for column-ordered input,
    and the pyfunc path rebuilds the frame column by column (as `frame.copy()` also does).
    """

    def __init__(self, seed: int) -> None:
        frame = synthetic_frame(200, seed)
        labels = (frame["tickets_90d"] + np.random.default_rng(seed).normal(size=200)) > 0
        self.clf = LogisticRegression().fit(self.matrix(frame), labels)

    @staticmethod
    def matrix(frame: pd.DataFrame) -> np.ndarray:
        return np.ascontiguousarray(frame[FEATURES].to_numpy(dtype=np.float64))

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        probability = self.clf.predict_proba(self.matrix(frame))[:, 1]
        return pd.DataFrame({"churn_probability": probability}, index=frame.index)


def synthetic_frame(rows: int, seed: int) -> pd.DataFrame:
    values = np.random.default_rng(seed).normal(size=(rows, len(FEATURES)))
    return pd.DataFrame(values, columns=FEATURES)


def figure() -> Figure:
    fig = Figure(figsize=(2, 2))
    fig.add_subplot().plot([0, 1], [0, 1])
    return fig


def train_and_log(
    model_name: str, seed: int, value: float, metric: str = "roc_auc", **overrides: Any
) -> tuple[RunRecord, ChurnModel]:
    model = ChurnModel(seed)
    example = synthetic_frame(5, 1000 + seed)
    kwargs: dict[str, Any] = {
        "experiment": "cxml-test",
        "run_name": f"{model_name}-{seed}",
        "model_name": model_name,
        "params": {"C": 1.0, "features": FEATURES, "long": "x" * 7000},
        "metrics": {metric: value, "brier": 0.1},
        "tables": {"calibration": pd.DataFrame({"bin": [0, 1], "rate": [0.1, 0.9]})},
        "figures": {"calibration": figure()},
        "texts": {"feature_list.txt": "\n".join(FEATURES), "data_summary.json": '{"rows": 200}'},
        "model": model,
        "input_example": example,
        "promote_metric": metric,
        "pii_columns": ("email", "phone"),
        "tags": {"purpose": "unit-test"},
    }
    kwargs.update(overrides)
    return log_training(**kwargs), model


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A temporary embedded store shared by the module; cwd is there so artifacts land there."""
    root = tmp_path_factory.mktemp("mlflow")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root}/mlflow.db")
        patch.chdir(root)
        yield root
        mlflow.set_tracking_uri(None)  # type: ignore[arg-type]  # None resets MLflow's global


@dataclass
class History:
    records: list[RunRecord]
    models: list[ChurnModel]
    aliases: list[dict[str, str]]  # registered-model aliases after each run


@pytest.fixture(scope="module")
def history(store: Path) -> History:
    """v1 (0.80) first champion, v2 (0.70) stays challenger, v3 (0.90) replaces v1."""
    result = History([], [], [])
    for seed, value in [(1, 0.80), (2, 0.70), (3, 0.90)]:
        record, model = train_and_log("churn", seed, value)
        result.records.append(record)
        result.models.append(model)
        aliases = MlflowClient().get_registered_model("churn").aliases
        result.aliases.append({alias: str(version) for alias, version in aliases.items()})
    return result


def test_first_run_becomes_champion_and_challenger(history: History) -> None:
    first = history.records[0]
    assert (first.model_name, first.version, first.promoted) == ("churn", "1", True)
    assert history.aliases[0] == {"champion": "1", "challenger": "1"}
    assert "first champion" in first.decision


def test_worse_run_stays_challenger(history: History) -> None:
    second = history.records[1]
    assert (second.version, second.promoted) == ("2", False)
    assert history.aliases[1] == {"champion": "1", "challenger": "2"}
    assert second.decision == (
        "v2 (roc_auc 0.7) does not beat champion v1 (0.8 logged on its own test rows): "
        "stays challenger"
    )


def test_better_run_replaces_champion_and_remembers_previous(history: History) -> None:
    third = history.records[2]
    assert (third.version, third.promoted) == ("3", True)
    assert history.aliases[2] == {"champion": "3", "challenger": "3"}
    assert (
        third.decision == "champion v3 (roc_auc 0.9) replaces v1 (0.8 logged on its own test rows)"
    )
    tags = MlflowClient().get_model_version("churn", "3").tags
    assert tags[tracking.PREVIOUS_CHAMPION_TAG] == "1"
    assert tags[tracking.PROMOTION_TAG] == third.decision


def test_run_has_params_metrics_tags_and_decision(history: History) -> None:
    record = history.records[1]
    run = MlflowClient().get_run(record.run_id)
    assert run.data.params["C"] == "1.0"
    assert run.data.params["features"] == str(FEATURES)
    assert len(run.data.params["long"]) == 6000
    assert run.data.params["long"].endswith("[truncated]")
    assert run.data.metrics == {"roc_auc": 0.7, "brier": 0.1}
    assert run.data.tags["purpose"] == "unit-test"
    assert run.data.tags[tracking.CODE_VERSION_TAG]  # short hash, or "unknown" outside git
    assert run.data.tags[tracking.PROMOTION_TAG] == record.decision
    assert mlflow.artifacts.load_text(f"runs:/{record.run_id}/promotion.txt").strip() == (
        record.decision
    )


def test_artifacts_are_logged(history: History, store: Path) -> None:
    client = MlflowClient()
    run_id = history.records[0].run_id

    def names(path: str | None = None) -> set[str]:
        return {item.path for item in client.list_artifacts(run_id, path)}

    assert {"feature_list.txt", "data_summary.json", "promotion.txt"} <= names()
    assert names("tables") == {"tables/calibration.csv"}
    assert names("plots") == {"plots/calibration.png"}
    table = mlflow.artifacts.load_text(f"runs:/{run_id}/tables/calibration.csv")
    assert table.splitlines() == ["bin,rate", "0,0.1", "1,0.9"]
    artifact_uri = client.get_run(run_id).info.artifact_uri
    assert Path(artifact_uri.removeprefix("file://")).is_relative_to(store)


def test_load_model_and_pyfunc_predict_exactly_like_the_trained_model(history: History) -> None:
    frame = synthetic_frame(50, seed=99)
    expected = history.models[2].predict(frame)["churn_probability"].to_numpy()
    loaded = tracking.load_model("churn")
    assert isinstance(loaded, ChurnModel)
    np.testing.assert_array_equal(loaded.predict(frame)["churn_probability"].to_numpy(), expected)
    served = tracking.load_pyfunc("churn", alias="challenger").predict(frame)
    np.testing.assert_array_equal(served["churn_probability"].to_numpy(), expected)


def test_load_unknown_alias_or_model_says_what_to_do(history: History) -> None:
    with pytest.raises(ValueError, match="no version with alias 'staging'"):
        tracking.load_model("churn", alias="staging")
    with pytest.raises(ValueError, match="no registered model named 'nope'"):
        tracking.load_model("nope")


def test_model_versions_lists_aliases_and_metric(history: History) -> None:
    listing = tracking.model_versions("churn")
    assert listing["version"].tolist() == [1, 2, 3]
    assert listing["aliases"].tolist() == ["", "", "challenger,champion"]
    assert listing["metric"].tolist() == ["roc_auc"] * 3
    assert listing["value"].tolist() == [0.8, 0.7, 0.9]
    assert listing["run_id"].tolist() == [record.run_id for record in history.records]
    assert str(listing["created"].dt.tz) == "UTC"


def test_lower_is_better_metric(store: Path) -> None:
    train_and_log("churn_loss", 1, 0.50, metric="log_loss", higher_is_better=False)
    worse, _ = train_and_log("churn_loss", 2, 0.60, metric="log_loss", higher_is_better=False)
    better, _ = train_and_log("churn_loss", 3, 0.40, metric="log_loss", higher_is_better=False)
    assert (worse.promoted, better.promoted) == (False, True)
    assert (
        better.decision
        == "champion v3 (log_loss 0.4) replaces v1 (0.5 logged on its own test rows)"
    )


def champion_version(model_name: str) -> str:
    # the sqlite registry hands versions back as int here, as str elsewhere
    return str(MlflowClient().get_model_version_by_alias(model_name, "champion").version)


def test_promote_and_rollback_walk_the_champion_history(store: Path) -> None:
    train_and_log("churn_rb", 1, 0.80)
    train_and_log("churn_rb", 2, 0.85)  # champion v2, previous v1
    client = MlflowClient()
    assert tracking.rollback("churn_rb") == "champion of churn_rb rolled back from v2 to v1"
    assert champion_version("churn_rb") == "1"
    with pytest.raises(ValueError, match="has no earlier champion to roll back to"):
        tracking.rollback("churn_rb")
    message = tracking.promote("churn_rb", "v2", reason="hotfix verified")
    assert message == "champion of churn_rb is now v2 (was v1): hotfix verified"
    assert client.get_model_version("churn_rb", "2").tags[tracking.PREVIOUS_CHAMPION_TAG] == "1"
    tracking.rollback("churn_rb")
    assert champion_version("churn_rb") == "1"


def test_promote_unknown_version_says_what_to_do(history: History) -> None:
    with pytest.raises(ValueError, match=r"has no version '42'.*model_versions"):
        tracking.promote("churn", "42")


def runs_in_test_experiment() -> int:
    experiment = MlflowClient().get_experiment_by_name("cxml-test")
    return 0 if experiment is None else len(MlflowClient().search_runs([experiment.experiment_id]))


@pytest.mark.parametrize(
    "overrides",
    [
        {"tables": {"customers": pd.DataFrame({"email": ["a@example.com"], "x": [1]})}},
        {"input_example": synthetic_frame(3, 5).assign(Email="x@example.com")},
        {"texts": {"feature_list.txt": "tenure_days\nemail\n"}},
    ],
    ids=["table", "input_example", "feature_list"],
)
def test_pii_guard_refuses_before_anything_is_logged(
    store: Path, overrides: dict[str, Any]
) -> None:
    before = runs_in_test_experiment()
    with pytest.raises(ValueError, match=r"PII column\(s\) \['[Ee]mail'\]"):
        train_and_log("churn_pii", 1, 0.8, **overrides)
    assert runs_in_test_experiment() == before


def test_pii_guard_accepts_names_and_index_names() -> None:
    logged._check_no_pii(["tenure_days", "spend_30d"], ("email",))
    with pytest.raises(ValueError, match="drop them"):
        logged._check_no_pii(["phone"], ("email", "phone"))
    with pytest.raises(ValueError, match="email"):
        logged._check_no_pii(
            pd.DataFrame({"x": [1]}, index=pd.Index(["a"], name="email")), ("email",)
        )


def test_missing_promote_metric_is_a_clear_error(store: Path) -> None:
    with pytest.raises(ValueError, match="promote_metric 'pr_auc' is not among the logged"):
        train_and_log("churn", 9, 0.5, promote_metric="pr_auc")


def test_tracking_uri_defaults_to_sqlite_in_cwd(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    assert tracking_uri() == f"sqlite:///{Path(os.getcwd()) / 'mlflow.db'}"
    with pytest.raises(ValueError, match="no registered model named 'churn'"):
        tracking.model_versions("churn")  # opens (creates) the embedded store in cwd
    assert (tmp_path / "mlflow.db").is_file()
    # mlflow.set_tracking_uri exports the URI to os.environ; it must not pin this cwd
    assert "MLFLOW_TRACKING_URI" not in os.environ
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.internal:5000")
    assert tracking_uri() == "http://mlflow.internal:5000"


def test_a_champion_scored_on_the_same_rows_decides_not_its_logged_metric(store: Path) -> None:
    """v1 logged 0.80 on its own test rows; on v2's test rows it reaches only 0.70, so v2 (0.75
    there) replaces it. Without such a score the logged values decide."""
    train_and_log("same-rows", 1, 0.80)
    seen: list[object] = []

    def judge(champion: object) -> tuple[float, int]:
        seen.append(champion)
        return 0.70, 500

    second, _ = train_and_log("same-rows", 2, 0.75, judge=judge)
    assert second.promoted and isinstance(seen[0], ChurnModel)
    assert second.decision == (
        "champion v2 (roc_auc 0.75 on its 500 test rows) replaces v1 (0.7 on the same rows)"
    )
    third, _ = train_and_log("same-rows", 3, 0.74, judge=lambda champion: None)
    assert not third.promoted and "logged on its own test rows" in third.decision
