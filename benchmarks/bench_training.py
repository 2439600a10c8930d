"""Training time for 100k rows with the demo feature set (issue 4 target: 30 s or less on 2
cores): LightGBM with early stopping and calibration, next to the logistic baseline fitted on
the same rows in the same process."""

from __future__ import annotations

import time
import warnings

import numpy as np
import pandas as pd

from cxml.config import load_config
from cxml.data.simulate import Simulation
from cxml.features.build import build_features
from cxml.features.dataset import build_training_set
from cxml.models.backtest import feature_part
from cxml.models.train import BoostedClassifier, fit_baseline

ROWS = 100_000


def _frame(sim: Simulation) -> pd.DataFrame:
    """Monthly cutoffs back from the evaluation cutoff until there are enough labelled rows."""
    config = load_config("pipelines/demo.yaml")
    fcfg, lcfg = config.features, config.labels
    cutoffs = [sim.config.cutoff - pd.DateOffset(months=m + 4) for m in range(4)]

    def features(ev: pd.DataFrame, cu: pd.DataFrame, cutoff: pd.Timestamp) -> pd.DataFrame:
        return build_features(ev, cu, cutoff, fcfg).frame()

    return build_training_set(sim.events, sim.customers, cutoffs, features, lcfg)


def run(sim: Simulation) -> None:
    config = load_config("pipelines/demo.yaml")
    frame = _frame(sim)
    rng = np.random.default_rng(0)
    rows = frame.iloc[rng.permutation(len(frame))]
    held = min(10_000, len(rows) // 5)  # early stopping, calibration: less on a small run
    n = min(ROWS, len(rows) - 2 * held)  # a small CXML_BENCH_CUSTOMERS run has fewer rows
    train, stop, calibrate = rows.iloc[:n], rows.iloc[n : n + held], rows.iloc[-held:]
    x, y = feature_part(train), train["churn"].to_numpy(dtype=int)
    start = time.perf_counter()
    model = BoostedClassifier(config.model).fit(
        x,
        y,
        feature_part(stop),
        stop["churn"].to_numpy(dtype=int),
        feature_part(calibrate),
        calibrate["churn"].to_numpy(dtype=int),
    )
    ours = time.perf_counter() - start
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit_baseline(x, y)
    base = time.perf_counter() - start
    print("training (churn model, demo feature set)")
    print(f"  rows x features      {len(train):>10,} x {x.shape[1]}")
    print(
        f"  LightGBM + calibration {ours:>8.1f} s   ({model.best_iteration_} rounds after "
        "early stopping; target <= 30 s)"
    )
    print(f"  logistic baseline    {base:>10.1f} s   (ratio {ours / base:.1f}x)\n")
