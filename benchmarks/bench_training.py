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
from cxml.models.backtest import feature_part, fit_target
from cxml.models.choice import LinearRisk
from cxml.models.train import FrameEncoder

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
    encoder = FrameEncoder().fit(x)
    parts = {"train": train, "stop": stop, "calibrate": calibrate, "test": calibrate.head(0)}
    start = time.perf_counter()
    model, choice, _ = fit_target("churn", parts, encoder, config.model)
    ours = time.perf_counter() - start
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        LinearRisk(encoder.columns_, encoder.categorical_).fit(encoder.transform(x), y)
    base = time.perf_counter() - start
    print("training (churn model, demo feature set)")
    print(f"  rows x features      {len(train):>10,} x {x.shape[1]}")
    print(
        f"  shipped model          {ours:>8.1f} s   (trees: {model.boosted.best_iteration_} rounds "
        f"after early stopping, + logistic, choice, calibration; target <= 30 s)"
    )
    print(f"  chosen                 {choice.kind}, calibration {choice.calibration}")
    print(f"  logistic alone       {base:>10.1f} s   (ratio {ours / base:.1f}x)\n")
