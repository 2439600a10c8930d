"""Exact TreeSHAP explanations on the whole base and on the riskiest 10%, next to the plain
prediction they explain (the same booster's `predict_matrix_raw`), in the same process.

What it shows: how many times dearer an exact explanation is than a score, and what explaining
only the top decile (`cxml.scoring.explain_mask`, as `Scorer.score` does) saves. Contributions
are timed on the encoded matrix (encoding has its own line); reason texts (`reason_columns`)
are timed on the same rows. cxml's TreeSHAP (models/treeshap.py) is timed beside LightGBM's own
(`pred_contrib`) on the top decile, wall and CPU, and its tables, made once per model, apart.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from benchmarks.bench_features import timed
from cxml.config import FeatureConfig, LabelConfig, ModelConfig
from cxml.data.simulate import Simulation
from cxml.features.build import build_features, feature_catalog
from cxml.features.dataset import build_training_set
from cxml.models import explain
from cxml.models.backtest import fit_target
from cxml.models.bundle import ScoringBundle, bundle_spec
from cxml.models.flat_trees import Trees
from cxml.models.train import FrameEncoder
from cxml.models.treeshap import compile_kernels, tables
from cxml.scoring import explain_mask, ranks

TOP = 0.10


def quick_bundle(sim: Simulation) -> ScoringBundle:
    """A churn model from one earlier cutoff whose label window closes at the sim's cutoff;
    rows split by customer into train / early-stopping / calibration (thirds)."""
    fcfg, labels = FeatureConfig(), LabelConfig(horizon_days=sim.config.horizon_weeks * 7)
    at = sim.config.cutoff - labels.horizon
    frame = build_training_set(
        sim.events,
        sim.customers,
        [at],
        lambda e, c, t: build_features(e, c, t, fcfg).frame(),
        labels,
    )
    frame = frame.droplevel("cutoff")
    y = frame.pop("churn").to_numpy()
    frame = frame.drop(columns="satisfaction_drop")
    part = np.random.default_rng(0).integers(0, 3, len(frame))
    frame["churn"] = y
    parts = {name: frame[part == p] for p, name in enumerate(("train", "stop", "calibrate"))}
    encoder = FrameEncoder().fit(parts["train"].drop(columns="churn"))
    config = ModelConfig(max_rounds=300, early_stopping_rounds=30, threads=2, choose="boosted")
    model, _, _ = fit_target("churn", parts | {"test": frame.head(0)}, encoder, config)
    return ScoringBundle(
        pipeline="bench",
        spec=bundle_spec(fcfg, labels, None),
        catalog=feature_catalog(sim.customers, fcfg).loc[list(encoder.columns_)],
        encoder=encoder,
        models={"churn": model},
    )


def _line(label: str, seconds: float, rows: int, base: float | None = None) -> None:
    ratio = f"   {seconds / base:>7.1f}x the prediction" if base else ""
    print(f"  {label:<30} {seconds:>8.3f} s   {rows / seconds:>12,.0f} rows/s{ratio}")


def _wall_and_cpu(fn: Callable[[], object]) -> tuple[float, float]:
    """The best of three runs' wall and CPU seconds."""
    best = (float("inf"), float("inf"))
    for _ in range(3):
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        best = min(best, (time.perf_counter() - wall, time.process_time() - cpu))
    return best


def run(sim: Simulation, bundle: ScoringBundle | None = None) -> None:
    bundle = bundle or quick_bundle(sim)
    model = bundle.models["churn"]
    features = bundle.features(sim.events, sim.customers, sim.config.cutoff)
    n = len(features)
    names, infos = bundle.feature_names, explain.feature_infos(bundle.catalog)
    matrix = bundle.encode(features)
    raw = model.predict_matrix_raw(matrix)
    rank = ranks(model.calibrated(raw), raw, features.index)  # 1 = riskiest, as scoring ranks
    predict = timed(lambda: model.predict_matrix_raw(matrix), repeat=3)
    encode = timed(lambda: bundle.encode(features), repeat=3)
    booster, rounds = model.boosted.booster_, model.boosted.best_iteration_
    compile_kernels()  # numba's code, compiled or read from its cache: once per process
    made = timed(lambda: tables(Trees.of(booster, rounds)))
    start = time.perf_counter()
    contrib = explain.contributions(bundle, "churn", matrix)[:, :-1]  # the base column left off
    exact = time.perf_counter() - start
    top = timed(lambda: explain.contributions(bundle, "churn", matrix[explain_mask(rank, TOP)]))
    mask = explain_mask(rank, TOP)
    picked = np.flatnonzero(mask)

    def worded(rows: np.ndarray | None) -> object:
        """Reasons in words (with the protective factor) for all rows or only `rows`."""
        if rows is None:
            return explain.reason_columns(contrib, names, features, infos, protective=True)
        table = features.take(rows)
        return explain.reason_columns(contrib[rows], names, table, infos, protective=True)

    ours = _wall_and_cpu(lambda: explain.contributions(bundle, "churn", matrix[mask]))
    theirs = _wall_and_cpu(
        lambda: booster.predict(matrix[mask], pred_contrib=True, num_iteration=rounds)
    )
    reasons = timed(lambda: worded(None))
    top_reasons = timed(lambda: worded(picked))
    print(f"explanations (churn, {n:,} customers, {model.boosted.best_iteration_} trees)")
    _line("predict_matrix_raw (baseline)", predict, n)
    _line("encode features", encode, n)
    _line("exact contributions, all", exact, n, predict)
    _line(f"explain_mask {TOP:.0%} (all rows/s)", top, n, predict)
    print(f"  TreeSHAP tables, once per model {made:>7.3f} s")
    for label, (wall, cpu) in (("cxml", ours), ("LightGBM pred_contrib", theirs)):
        print(f"  top {TOP:.0%}, {label:<22} {wall:>8.3f} s wall {cpu:>8.3f} s CPU")
    print(
        f"  cxml's TreeSHAP at {theirs[0] / ours[0]:.1f}x LightGBM's speed (wall), "
        f"{theirs[1] / ours[1]:.1f}x (CPU); the same values to 1e-9 "
        "(tests/unit/test_treeshap.py)"
    )
    _line("reason_columns, all", reasons, n, predict)
    _line(f"reason_columns, top {TOP:.0%}", top_reasons, len(picked), predict)
    print(
        f"  explained + worded: all {exact + reasons:.2f} s, "
        f"top {TOP:.0%} {top + top_reasons:.2f} s (+ encoding and the prediction)\n"
    )
