"""Named stages on stderr: each ended stage printed once, in order, with its elapsed time."""

from __future__ import annotations

import re

import pytest

from cxml.config import load_config
from cxml.jobs.progress import stages
from cxml.jobs.train import train_stages
from tests.conftest import REPO


def test_each_stage_is_printed_once_in_order_with_its_time(capsys):
    with stages("training", ["load", "fit"]) as begin:
        begin("load")
        begin("fit")
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("training: ")]
    assert [re.sub(r" \(\d+\.\d s\)$", "", line) for line in lines] == [
        "training: load",
        "training: fit",
    ]


def test_a_failing_stage_is_not_reported_as_done(capsys):
    with pytest.raises(RuntimeError), stages("scoring", ["load", "fit"]) as begin:
        begin("load")
        begin("fit")
        raise RuntimeError("boom")
    err = capsys.readouterr().err
    assert "scoring: load (" in err and "scoring: fit (" not in err


def test_train_names_a_backtest_stage_per_target():
    config = load_config(REPO / "pipelines" / "demo.yaml")
    names = train_stages(config)
    assert names[:2] == ["load data", "build features"]
    assert {"backtest churn", "backtest satisfaction_drop", "refit for registration"} <= set(names)
