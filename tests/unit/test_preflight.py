"""`cxml train` checks its config against the data before any heavy work, and says what to change
with values read from the data. On a small simulated base: events 2024-01-01 .. 2025-10-01."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from cxml.cli import app
from cxml.config import ConfigError, load_config
from cxml.jobs.ingest import run_simulate
from cxml.jobs.inputs import cutoffs, load_inputs
from cxml.jobs.preflight import check_against_data

DEMO = Path(__file__).parents[2] / "pipelines" / "demo.yaml"
runner = CliRunner()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("preflight") / "data"
    run_simulate(folder, customers=400, seed=5)
    return folder


def config_file(folder: Path, data_dir: Path, **changes: dict) -> Path:
    raw = yaml.safe_load(DEMO.read_text(encoding="utf-8"))
    raw["data"] = {"dir": str(data_dir)}
    for section, values in changes.items():
        if isinstance(values, dict):
            raw.setdefault(section, {}).update(values)
        else:
            raw[section] = values
    path = folder / "pipeline.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


def problems(tmp_path: Path, data_dir: Path, **changes: dict) -> str:
    config = load_config(config_file(tmp_path, data_dir, **changes))
    loaded = load_inputs(config, tmp_path / "quarantine", write=False)
    with pytest.raises(ConfigError) as raised:
        check_against_data(config, loaded, cutoffs(config))
    return str(raised.value)


def test_the_demo_config_fits_its_data(tmp_path, data_dir):
    config = load_config(config_file(tmp_path, data_dir))
    check_against_data(config, load_inputs(config, tmp_path / "q", write=False), cutoffs(config))


def test_a_segment_that_is_not_an_attribute_names_those_that_are(tmp_path, data_dir):
    said = problems(tmp_path, data_dir, evaluation={"segments": ["plan", "country"]})
    assert "evaluation.segments: 'country' is not a customer attribute" in said
    assert "use one of: " in said and "plan" in said.split("use one of: ")[1]


def test_an_open_label_window_names_the_last_cutoff_that_fits(tmp_path, data_dir):
    said = problems(tmp_path, data_dir, cutoffs={"extra": ["2025-08-01"]})
    end = pd.read_parquet(data_dir / "events.parquet")["event_time"].max()
    assert f"2025-08-01 have a 91-day label window that the data (ending {end.date()})" in said
    fits = end + pd.Timedelta(days=1) - pd.Timedelta(days=91)  # the latest closed window
    assert f"use cutoffs up to {fits.date()} (cutoffs.last: {fits.date().replace(day=1)})" in said


def test_cutoffs_before_the_data_name_where_it_starts(tmp_path, data_dir):
    said = problems(tmp_path, data_dir, cutoffs={"first": "2023-10-01"})
    assert "2023-10-01, 2023-11-01, 2023-12-01 and 1 more come before the data starts" in said
    assert "start at 2024-02-01" in said


def test_a_split_that_cannot_fit_advises_what_the_data_allows(tmp_path, data_dir):
    # validation 2024-05-01 leaves no cutoff whose window closes before it; no earlier data
    # exists, so "add earlier cutoffs" would be impossible advice
    cut = {"first": "2024-02-01", "last": "2024-05-01", "extra": ["2024-09-01"], "n_validation": 1}
    said = problems(tmp_path, data_dir, cutoffs=cut)
    assert "set cutoffs.n_validation: 0; or labels.horizon_days: 90" in said
    assert "cutoffs.first" not in said


def test_label_event_types_must_be_in_the_log(tmp_path, data_dir):
    said = problems(
        tmp_path,
        data_dir,
        labels={"churn": "inactivity", "activity_types": ["visit"], "survey_type": "nps"},
        targets=["churn", "satisfaction_drop"],
    )
    assert "labels.activity_types: none of visit is in the events" in said
    assert "from: cancel, complaint, login," in said
    assert "labels.survey_type: no 'nps' events" in said


def test_cxml_train_stops_before_building_anything(tmp_path, data_dir):
    path = config_file(tmp_path, data_dir, evaluation={"segments": ["country"]})
    result = runner.invoke(
        app,
        ["train", "--config", str(path)],
        env={"MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/m.db"},
    )
    assert result.exit_code == 2, result.output
    assert "evaluation.segments: 'country'" in result.output
    assert "build features" not in result.output and "Traceback" not in result.output
    checked = runner.invoke(app, ["validate", "--config", str(path)])
    assert checked.exit_code == 2 and "evaluation.segments: 'country'" in checked.output
