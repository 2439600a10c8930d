"""Fit and judge the models honestly: out of time (cutoffs) or by stratified folds (snapshots).

Pure: a training frame in (features + label columns, indexed by customer and cutoff), fitted
models and out-of-sample predictions out. Early stopping and calibration each get their own
customers from a slice the model never trains on; test rows are never seen before scoring.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold, train_test_split

from cxml.config import ModelConfig
from cxml.features.dataset import Split
from cxml.models.choice import LinearRisk, RiskModel, candidate_scores, choose_kind
from cxml.models.train import BoostedClassifier, FrameEncoder, rfm_columns

LABELS = ("churn", "satisfaction_drop")


@dataclass
class TargetResult:
    """Out-of-sample predictions for one target, on the rows where its label is known."""

    target: str
    y: np.ndarray
    model: np.ndarray  # the chosen model, calibrated
    raw: np.ndarray  # the chosen model before calibration
    baseline: np.ndarray  # the logistic baseline
    index: pd.Index
    best_iterations: list[int] = field(default_factory=list)
    #: per fit (one, or one per fold): the kind chosen, its calibration, and each candidate's
    #: AUC on the held-out rows it was chosen on
    choices: list[Choice] = field(default_factory=list)
    #: per row, the fold that judged it (cross-validation); None out of time
    fold: np.ndarray | None = None


@dataclass(frozen=True)
class Choice:
    kind: str
    calibration: str
    aucs: dict[str, float]


@dataclass
class Backtest:
    encoder: FrameEncoder
    models: dict[str, RiskModel]  # fitted for registration
    results: dict[str, TargetResult]
    #: how the registered models were fitted, in words (cutoffs per role)
    deployment: str = ""


def _untold(step: str) -> None:
    """The default progress callback: nobody is told."""


def feature_part(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=[c for c in LABELS if c in frame.columns])


def customer_buckets(index: pd.Index, n: int) -> np.ndarray:
    """A stable bucket 0..n-1 per row from a hash of its customer id, the same on every run;
    all of a customer's cutoffs land in the same bucket."""
    ids = index.get_level_values("customer_id").astype(str)
    return np.fromiter((zlib.crc32(i.encode()) % n for i in ids), dtype=np.int64, count=len(ids))


def _slices(frame: pd.DataFrame, split: Split) -> dict[str, pd.DataFrame]:
    """Train / stop / calibrate / test. The most recent labelled cutoffs before the test (the
    validation cutoffs, else the last training cutoff) are halved by customer between
    stopping early and choosing and calibrating the model, so the rows nearest to scoring set
    the probabilities' level; with a single training cutoff, a tenth of its customers each is
    held out instead (the test stays out of time either way)."""
    cutoffs = frame.index.get_level_values("cutoff")
    test = frame[cutoffs.isin(split.test)]
    recent = split.validation or (split.train[-1:] if len(split.train) > 1 else [])
    train = frame[cutoffs.isin([c for c in split.train if c not in recent])]
    if recent:
        validation = frame[cutoffs.isin(recent)]
        half = customer_buckets(validation.index, 2) == 0
        return {
            "train": train,
            "stop": validation[half],
            "calibrate": validation[~half],
            "test": test,
        }
    bucket = customer_buckets(train.index, 10)
    return {
        "train": train[bucket >= 2],
        "stop": train[bucket == 0],
        "calibrate": train[bucket == 1],
        "test": test,
    }


def fit_target(
    target: str,
    parts: dict[str, pd.DataFrame],
    encoder: FrameEncoder,
    config: ModelConfig,
    directions: Mapping[str, int] | None = None,
) -> tuple[RiskModel, Choice, dict[str, pd.DataFrame]]:
    """Fit the candidates on `train` (the trees stopped early on `stop`), choose one and
    calibrate it on `calibrate`, each with known labels."""
    known = {name: part[part[target].notna()] for name, part in parts.items()}
    for name, part in known.items():
        if name != "test" and part[target].nunique() < 2:
            raise ValueError(
                f"{target}: the {name} slice has {len(part)} labelled rows of one class only; "
                "add cutoffs or customers"
            )
    xs = {name: feature_part(part) for name, part in known.items()}
    ys = {name: part[target].to_numpy(dtype=int) for name, part in known.items()}
    boosted = BoostedClassifier(config, encoder, directions).fit(
        xs["train"], ys["train"], xs["stop"], ys["stop"]
    )
    names = list(encoder.columns_)
    use = rfm_columns(names) if config.baseline_features == "rfm" else None
    ways = directions if config.monotone else None
    linear = LinearRisk(names, encoder.categorical_, ways, use)  # needs no stopping slice:
    fit_rows = pd.concat([xs["train"], xs["stop"]])  # it learns from the recent rows too
    linear.fit(encoder.transform(fit_rows), np.concatenate([ys["train"], ys["stop"]]))
    held_out = encoder.transform(xs["calibrate"])
    scores = candidate_scores(boosted, linear, held_out)
    kind, aucs = choose_kind(ys["calibrate"], scores, config.choose, config.seed)
    model = RiskModel(boosted, linear, kind)
    model.heldout_auc_ = aucs
    model.calibrate(held_out, ys["calibrate"], config.calibration, config.seed)
    return model, Choice(model.kind, model.method_, aucs), known


def _predict(
    target: str, model: RiskModel, choice: Choice, encoder: FrameEncoder, test: pd.DataFrame
) -> TargetResult:
    matrix = encoder.transform(feature_part(test))
    raw = model.predict_matrix_raw(matrix)
    return TargetResult(
        target=target,
        y=test[target].to_numpy(dtype=int),
        model=model.calibrated(raw),
        raw=raw,
        baseline=model.linear.predict_matrix_raw(matrix),
        index=test.index,
        best_iterations=[model.boosted.best_iteration_],
        choices=[choice],
    )


def out_of_time(
    frame: pd.DataFrame,
    split: Split,
    targets: tuple[str, ...],
    config: ModelConfig,
    directions: Mapping[str, int] | None = None,
    begin: Callable[[str], None] = _untold,
) -> Backtest:
    """Train on the training cutoffs, stop early and calibrate on slices it never sees (see
    `_slices`), judge on the test cutoffs. `directions`: the catalog's, per feature. `begin`
    is told each step's name as it starts (for progress)."""
    parts = _slices(frame, split)
    encoder = FrameEncoder().fit(feature_part(parts["train"]))
    models, results = {}, {}
    for target in targets:
        begin(f"backtest {target}")
        model, choice, known = fit_target(target, parts, encoder, config, directions)
        models[target] = model
        results[target] = _predict(target, model, choice, encoder, known["test"])
    begin("refit for registration")
    return _deployed(Backtest(encoder, models, results), frame, config, directions)


def _deployed(
    backtest: Backtest,
    frame: pd.DataFrame,
    config: ModelConfig,
    directions: Mapping[str, int] | None,
) -> Backtest:
    """The models refitted for registration on every labelled cutoff, test cutoffs included:
    the kind and calibration method the backtest chose, the trees trained on all cutoffs but
    the newest, whose customers are halved between stopping early and calibrating. The
    backtest's numbers stay the estimate of their quality. With one cutoff, the backtest's
    models are registered."""
    cutoffs = sorted(set(frame.index.get_level_values("cutoff")))
    if len(cutoffs) < 2:
        return backtest
    newest = frame.index.get_level_values("cutoff") == cutoffs[-1]
    recent, half = frame[newest], customer_buckets(frame[newest].index, 2) == 0
    parts = {"train": frame[~newest], "stop": recent[half], "calibrate": recent[~half]}
    parts["test"] = recent.head(0)
    encoder = FrameEncoder().fit(feature_part(parts["train"]))
    models = {}
    for target, chosen in backtest.models.items():
        settings = replace(config, choose=chosen.kind, calibration=chosen.method_)  # type: ignore[arg-type]
        model = fit_target(target, parts, encoder, settings, directions)[0]
        model.heldout_auc_ = chosen.heldout_auc_  # why this kind: the backtest's comparison
        models[target] = model
    first, last = cutoffs[0].date(), cutoffs[-2].date()
    words = f"trained on the cutoffs {first} to {last}, calibrated on {cutoffs[-1].date()}"
    return Backtest(encoder, models, backtest.results, words)


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
    begin: Callable[[str], None] = _untold,
) -> Backtest:
    """Stratified, shuffled k-fold predictions (fixed seed) for snapshots without time; the
    registered models are then fitted on all rows."""
    encoder = FrameEncoder().fit(feature_part(frame))
    models, results = {}, {}
    for target in targets:
        begin(f"backtest {target}")
        labelled = frame[frame[target].notna()]
        pieces = []
        kfold = StratifiedKFold(n_splits=folds, shuffle=True, random_state=config.seed)
        for fit_rows, test_rows in kfold.split(labelled, labelled[target]):
            parts = _inner_parts(labelled.iloc[fit_rows], target, config.seed)
            model, choice, _ = fit_target(target, parts, encoder, config, directions)
            pieces.append(_predict(target, model, choice, encoder, labelled.iloc[test_rows]))
        results[target] = _concat(target, pieces)
        inner = _inner_parts(labelled, target, config.seed)
        models[target] = fit_target(target, inner, encoder, config, directions)[0]
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
        choices=[c for p in pieces for c in p.choices],
        fold=np.repeat(np.arange(len(pieces)), [len(p.y) for p in pieces]),
    )
