"""Fit and judge the models honestly: out of time (cutoffs) or by stratified folds (snapshots).

Pure: a training frame in (features + label columns, indexed by customer and cutoff), fitted
models and out-of-sample predictions out. Early stopping and calibration each get their own
customers from a slice the model never trains on; test rows are never seen before scoring.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold, train_test_split

from cxml.config import ModelConfig
from cxml.features.dataset import Split
from cxml.models.train import BoostedClassifier, FrameEncoder, baseline_proba, fit_baseline

LABELS = ("churn", "satisfaction_drop")


@dataclass
class TargetResult:
    """Out-of-sample predictions for one target, on the rows where its label is known."""

    target: str
    y: np.ndarray
    model: np.ndarray  # calibrated LightGBM
    raw: np.ndarray  # LightGBM before calibration
    baseline: np.ndarray  # logistic regression
    index: pd.Index
    best_iterations: list[int] = field(default_factory=list)


@dataclass
class Backtest:
    encoder: FrameEncoder
    models: dict[str, BoostedClassifier]  # fitted for registration
    results: dict[str, TargetResult]


def feature_part(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=[c for c in LABELS if c in frame.columns])


def _buckets(index: pd.Index, n: int) -> np.ndarray:
    """A stable bucket 0..n-1 per row from a hash of its customer id, the same on every run;
    all of a customer's cutoffs land in the same bucket."""
    ids = index.get_level_values("customer_id").astype(str)
    return np.fromiter((zlib.crc32(i.encode()) % n for i in ids), dtype=np.int64, count=len(ids))


def _slices(frame: pd.DataFrame, split: Split) -> dict[str, pd.DataFrame]:
    """Train / stop / calibrate / test. With validation cutoffs, their customers are halved
    between stopping and calibrating; without, a tenth of the customers each is held out of
    the training cutoffs (the test stays out of time either way)."""
    cutoffs = frame.index.get_level_values("cutoff")
    train = frame[cutoffs.isin(split.train)]
    test = frame[cutoffs.isin(split.test)]
    if split.validation:
        validation = frame[cutoffs.isin(split.validation)]
        half = _buckets(validation.index, 2) == 0
        return {
            "train": train,
            "stop": validation[half],
            "calibrate": validation[~half],
            "test": test,
        }
    bucket = _buckets(train.index, 10)
    return {
        "train": train[bucket >= 2],
        "stop": train[bucket == 0],
        "calibrate": train[bucket == 1],
        "test": test,
    }


def _fit_target(
    target: str,
    parts: dict[str, pd.DataFrame],
    encoder: FrameEncoder,
    config: ModelConfig,
    directions: Mapping[str, int] | None = None,
) -> tuple[BoostedClassifier, object, dict[str, pd.DataFrame]]:
    """Fit on `train`, stop early on `stop`, calibrate on `calibrate`, each with known labels."""
    known = {name: part[part[target].notna()] for name, part in parts.items()}
    for name, part in known.items():
        if name != "test" and part[target].nunique() < 2:
            raise ValueError(
                f"{target}: the {name} slice has {len(part)} labelled rows of one class only; "
                "add cutoffs or customers"
            )
    xs = {name: feature_part(part) for name, part in known.items()}
    ys = {name: part[target].to_numpy(dtype=int) for name, part in known.items()}
    model = BoostedClassifier(config, encoder, directions).fit(
        xs["train"], ys["train"], xs["stop"], ys["stop"], xs["calibrate"], ys["calibrate"]
    )
    baseline = fit_baseline(xs["train"], ys["train"], config.baseline_features)
    return model, baseline, known


def _predict(
    target: str, model: BoostedClassifier, baseline: object, test: pd.DataFrame
) -> TargetResult:
    x = feature_part(test)
    return TargetResult(
        target=target,
        y=test[target].to_numpy(dtype=int),
        model=model.predict_proba(x),
        raw=model.predict_raw(x),
        baseline=baseline_proba(baseline, x),
        index=test.index,
        best_iterations=[model.best_iteration_],
    )


def out_of_time(
    frame: pd.DataFrame,
    split: Split,
    targets: tuple[str, ...],
    config: ModelConfig,
    directions: Mapping[str, int] | None = None,
) -> Backtest:
    """Train on the training cutoffs, stop early and calibrate on slices it never sees (see
    `_slices`), judge on the test cutoffs. `directions`: the catalog's, per feature."""
    parts = _slices(frame, split)
    encoder = FrameEncoder().fit(feature_part(parts["train"]))
    models, results = {}, {}
    for target in targets:
        model, baseline, known = _fit_target(target, parts, encoder, config, directions)
        models[target] = model
        results[target] = _predict(target, model, baseline, known["test"])
    return Backtest(encoder, models, results)


def _inner_parts(frame: pd.DataFrame, target: str, seed: int) -> dict[str, pd.DataFrame]:
    """80% to train, 10% to stop early, 10% to calibrate, stratified by the label."""
    labelled = frame[frame[target].notna()]
    train, rest = train_test_split(
        labelled, test_size=0.2, random_state=seed, stratify=labelled[target]
    )
    stop, calibrate = train_test_split(
        rest, test_size=0.5, random_state=seed, stratify=rest[target]
    )
    return {"train": train, "stop": stop, "calibrate": calibrate}


def cross_validated(
    frame: pd.DataFrame,
    targets: tuple[str, ...],
    config: ModelConfig,
    folds: int,
    directions: Mapping[str, int] | None = None,
) -> Backtest:
    """Stratified, shuffled k-fold predictions (fixed seed) for snapshots without time; the
    registered models are then fitted on all rows."""
    encoder = FrameEncoder().fit(feature_part(frame))
    models, results = {}, {}
    for target in targets:
        labelled = frame[frame[target].notna()]
        pieces = []
        kfold = StratifiedKFold(n_splits=folds, shuffle=True, random_state=config.seed)
        for fit_rows, test_rows in kfold.split(labelled, labelled[target]):
            parts = _inner_parts(labelled.iloc[fit_rows], target, config.seed)
            model, baseline, _ = _fit_target(target, parts, encoder, config, directions)
            pieces.append(_predict(target, model, baseline, labelled.iloc[test_rows]))
        results[target] = _concat(target, pieces)
        inner = _inner_parts(labelled, target, config.seed)
        models[target] = _fit_target(target, inner, encoder, config, directions)[0]
    return Backtest(encoder, models, results)


def _concat(target: str, pieces: list[TargetResult]) -> TargetResult:
    return TargetResult(
        target=target,
        y=np.concatenate([p.y for p in pieces]),
        model=np.concatenate([p.model for p in pieces]),
        raw=np.concatenate([p.raw for p in pieces]),
        baseline=np.concatenate([p.baseline for p in pieces]),
        index=pieces[0].index.append([p.index for p in pieces[1:]]),
        best_iterations=[i for p in pieces for i in p.best_iterations],
    )
