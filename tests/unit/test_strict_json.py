"""Every JSON the project writes is strict (RFC 8259): a missing or non-finite number is null,
never a bare NaN or Infinity that strict parsers (browsers, jq, Java, Go) refuse."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from cxml.data.io import json_safe, json_text, write_json
from cxml.jobs.tracking import _strict_json
from cxml.jobs.train import write_metrics
from tests.helpers import strict_json

PAYLOAD = {
    "summary": {"training_rows": np.int64(300), "satisfaction_drop_rate": float("nan")},
    "metrics": {
        "churn_roc_auc": np.float64(0.75),
        "churn_ece": np.float32("nan"),
        "churn_lift_top10": float("inf"),
        "churn_gap": -float("inf"),
        "segments": [1.0, float("nan"), None],
        "when": pd.NaT,
        "at": pd.Timestamp("2025-06-30", tz="UTC"),
    },
}


def test_the_strict_parser_refuses_what_python_writes_by_default():
    with pytest.raises(ValueError, match="bare NaN"):
        strict_json(json.dumps({"x": float("nan")}))


def test_non_finite_and_missing_numbers_become_null():
    back = strict_json(json_text(PAYLOAD))
    assert back["summary"] == {"training_rows": 300, "satisfaction_drop_rate": None}
    metrics = back["metrics"]
    assert metrics["churn_roc_auc"] == 0.75
    assert metrics["churn_ece"] is None and metrics["churn_lift_top10"] is None
    assert metrics["churn_gap"] is None and metrics["when"] is None
    assert metrics["segments"] == [1.0, None, None]
    assert metrics["at"] == "2025-06-30 00:00:00+00:00"
    assert json_safe(np.array([1.0, np.nan])) == [1.0, None]


def test_write_metrics_writes_strict_json(tmp_path: Path):
    trained = SimpleNamespace(summary=PAYLOAD["summary"], metrics=PAYLOAD["metrics"])
    out = write_metrics(trained, tmp_path / "metrics.json")  # type: ignore[arg-type]
    back = strict_json(out.read_text())
    assert back["metrics"]["churn_ece"] is None and back["metrics"]["churn_roc_auc"] == 0.75
    assert back["summary"]["satisfaction_drop_rate"] is None


def test_write_json_is_atomic_and_ends_with_a_newline(tmp_path: Path):
    path = write_json({"a": float("nan")}, tmp_path / "x" / "out.json")
    assert path.read_text().endswith("}\n") and strict_json(path.read_text()) == {"a": None}
    assert [p.name for p in path.parent.iterdir()] == ["out.json"]


def test_mlflow_json_artifacts_are_made_strict_before_logging():
    texts = {
        "data_summary.json": json.dumps({"rate": float("nan"), "rows": 3}, indent=2),
        "notes.txt": "NaN stays as written in a text file",
    }
    strict = _strict_json(texts)
    assert strict_json(strict["data_summary.json"]) == {"rate": None, "rows": 3}
    assert strict["notes.txt"] == texts["notes.txt"]
    with pytest.raises(ValueError, match=r"'broken\.json' is not JSON"):
        _strict_json({"broken.json": "{rows: 3"})


def test_the_service_answer_is_strict_json():
    from cxml.serving.tables import answer

    row = {
        "customer_id": "C1",
        "churn_probability": 0.4,
        "churn_risk_band": "medium",
        "satisfaction_drop_probability": np.nan,
        "reason_1": "3 support tickets in the last 30 days",
        "reason_2": np.nan,
        "action": "discount",
        "action_expected_gain": np.float64("nan"),
        "action_cost": 30.0,
        "customer_value": np.inf,
        "model_name": "cxml-demo",
        "model_version": "3",
    }
    body = strict_json(answer(row, datetime(2025, 6, 30, tzinfo=UTC)).model_dump_json())
    assert body["satisfaction_drop_probability"] is None and body["customer_value"] is None
    assert body["action"]["expected_gain"] is None and body["action"]["cost"] == 30.0
    assert body["reasons"] == ["3 support tickets in the last 30 days"]
