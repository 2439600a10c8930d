"""Exact TreeSHAP explanations on the whole base and on the riskiest 10%, next to the plain
prediction they explain (the same booster's `predict_matrix_raw`), in the same process.

What it shows: how many times dearer an exact explanation is than a score, and what explaining
only the top decile (`explain_top`) saves. Reason-code rendering is timed on the same rows.
"""

from __future__ import annotations

import time

import numpy as np

from benchmarks.bench_features import timed
from cxml.config import FeatureConfig, LabelConfig, ModelConfig
from cxml.data.simulate import Simulation
from cxml.features.build import build_features, feature_catalog
from cxml.features.dataset import build_training_set
from cxml.models import explain
from cxml.models.bundle import ScoringBundle
from cxml.models.train import BoostedClassifier

TOP = 0.10


def quick_bundle(sim: Simulation) -> ScoringBundle:
    """A churn model from one earlier cutoff whose label window closes at the sim's cutoff;
    rows split by customer into train / early-stopping / calibration (thirds)."""
    fcfg, labels = FeatureConfig(), LabelConfig(horizon_days=sim.config.horizon_weeks * 7)
    at = sim.config.cutoff - labels.horizon
    frame = build_training_set(
        sim.events, sim.customers, [at], lambda e, c, t: build_features(e, c, t, fcfg), labels
    )
    frame = frame.droplevel("cutoff")
    y = frame.pop("churn").to_numpy()
    frame = frame.drop(columns="satisfaction_drop")
    part = np.random.default_rng(0).integers(0, 3, len(frame))
    model = BoostedClassifier(ModelConfig(max_rounds=300, early_stopping_rounds=30, threads=2))
    model.fit(*(x for p in range(3) for x in (frame[part == p], y[part == p])))
    return ScoringBundle(
        pipeline="bench",
        feature_config=fcfg,
        catalog=feature_catalog(sim.customers, fcfg).loc[list(frame.columns)],
        encoder=model.encoder_,
        models={"churn": model},
        horizon_days=labels.horizon_days,
    )


def _line(label: str, seconds: float, rows: int, base: float | None = None) -> None:
    ratio = f"   {seconds / base:>7.1f}x the prediction" if base else ""
    print(f"  {label:<30} {seconds:>8.3f} s   {rows / seconds:>12,.0f} rows/s{ratio}")


def run(sim: Simulation, bundle: ScoringBundle | None = None) -> None:
    bundle = bundle or quick_bundle(sim)
    model = bundle.models["churn"]
    features = bundle.features(sim.events, sim.customers, sim.config.cutoff)
    n = len(features)
    matrix = bundle.encoder.transform(features)
    probability = model.predict_matrix(matrix)
    predict = timed(lambda: model.predict_matrix_raw(matrix), repeat=3)
    encode = timed(lambda: bundle.encoder.transform(features), repeat=3)
    start = time.perf_counter()
    contrib, _ = explain.contributions(bundle, features, "churn")
    exact = time.perf_counter() - start
    top = timed(lambda: explain.explain_top(bundle, features, "churn", probability, TOP))
    mask = explain.top_mask(probability, TOP)
    reasons = timed(lambda: explain.reason_codes(contrib, features, bundle.catalog))
    top_rows = contrib[mask]
    top_reasons = timed(lambda: explain.reason_codes(top_rows, features, bundle.catalog))
    print(f"explanations (churn, {n:,} customers, {model.best_iteration_} trees)")
    _line("predict_matrix_raw (baseline)", predict, n)
    _line("encode features", encode, n)
    _line("exact contributions, all", exact, n, predict)
    _line(f"explain_top {TOP:.0%} (all rows/s)", top, n, predict)
    _line("reason codes, all", reasons, n, predict)
    _line(f"reason codes, top {TOP:.0%}", top_reasons, int(mask.sum()), predict)
    print(
        f"  explained + worded: all {exact + reasons:.2f} s, "
        f"top {TOP:.0%} {top + top_reasons:.2f} s (+ the prediction)\n"
    )
