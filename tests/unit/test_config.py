"""Pipeline configs: every shipped one loads; a wrong key or value is named with what to do."""

from __future__ import annotations

from pathlib import Path

import pytest

from cxml.config import ConfigError, load_config

PIPELINES = Path(__file__).resolve().parents[2] / "pipelines"


@pytest.mark.parametrize("path", sorted(PIPELINES.glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_pipeline_loads(path):
    config = load_config(path)
    assert config.name == path.stem
    assert config.tracking.model_name


def test_the_four_pipelines_the_issue_names_exist():
    names = {p.stem for p in PIPELINES.glob("*.yaml")}
    assert {"demo", "online_retail", "telco", "hillstrom"} <= names


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "p.yaml"
    path.write_text(text)
    return path


MINIMAL = "name: x\ndata: {dir: d}\ntracking: {experiment: e, model_name: m}\n"


def test_unknown_key_is_named_as_unknown(tmp_path):
    path = write(tmp_path, MINIMAL + "model: {num_leafs: 7}\n")
    with pytest.raises(ConfigError, match=r"model\.num_leafs: unknown key"):
        load_config(path)


def test_wrong_value_names_the_key_and_the_allowed_values(tmp_path):
    path = write(tmp_path, MINIMAL + "model: {calibration: iso}\n")
    with pytest.raises(ConfigError, match=r"model\.calibration: .*'isotonic', 'sigmoid' or 'none'"):
        load_config(path)


def test_missing_section_and_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="tracking: Field required"):
        load_config(write(tmp_path, "name: x\ndata: {dir: d}\n"))
    with pytest.raises(ConfigError, match="no such pipeline config"):
        load_config(tmp_path / "absent.yaml")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(write(tmp_path, "name: [x\n"))


def test_data_override_and_environment_expansion(tmp_path, monkeypatch):
    monkeypatch.setenv("CXML_SHARED_DATA", "/elsewhere")
    path = write(tmp_path, MINIMAL.replace("{dir: d}", "{dir: '${CXML_SHARED_DATA}/x'}"))
    assert load_config(path).data.dir == Path("/elsewhere/x")
    assert load_config(path, data_dir=tmp_path).data.dir == tmp_path
    monkeypatch.delenv("CXML_SHARED_DATA")
    assert load_config(path).data.dir == Path("../shared/data/x")


def test_unset_variable_is_named(tmp_path):
    path = write(tmp_path, MINIMAL.replace("{dir: d}", "{dir: '${CXML_NOT_SET_ANYWHERE}'}"))
    with pytest.raises(ConfigError, match="CXML_NOT_SET_ANYWHERE is not set"):
        load_config(path)


def test_monitor_thresholds_have_defaults_and_are_checked(tmp_path):
    assert load_config(write(tmp_path, MINIMAL)).monitor.max_drift_share == 0.1
    given = load_config(write(tmp_path, MINIMAL + "monitor: {max_ece: 0.08, psi_threshold: 0.2}\n"))
    assert (given.monitor.max_ece, given.monitor.psi_threshold) == (0.08, 0.2)
    with pytest.raises(ConfigError, match=r"monitor\.max_drift_share: .*less than or equal to 1"):
        load_config(write(tmp_path, MINIMAL + "monitor: {max_drift_share: 1.5}\n"))
    with pytest.raises(ConfigError, match=r"monitor\.min_auc: unknown key"):
        load_config(write(tmp_path, MINIMAL + "monitor: {min_auc: 0.6}\n"))
