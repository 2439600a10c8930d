"""The risk models: LightGBM with early stopping and calibration, and a logistic baseline.

Estimators follow scikit-learn's rules (parameters in `__init__`, `fit` returns self, learned
attributes end in `_`). The encoder turns the feature frame into a float matrix with category
codes, so prediction runs from numpy (fast for one row) and no pandas `category` dtype ever
reaches a signature.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from scipy.special import expit
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from cxml.config import ModelConfig
from cxml.features.table import Table

RFM_PREFIXES = ("days_since_last_purchase", "n_purchase_", "amount_purchase_")


SMALL = 64  # rows: FrameEncoder looks a few rows' levels up one by one


def _text(value: object) -> str:
    """A value as text, as pandas' astype(str) writes it (bytes are decoded)."""
    return value.decode() if isinstance(value, bytes) else str(value)


class FrameEncoder(TransformerMixin, BaseEstimator):
    """Feature frame -> float matrix; text columns become codes of the levels seen in fit."""

    # lookups derived from the fitted columns and levels, built on first use
    _indexes: dict[str, pd.Index] | None = None
    _codes: dict[str, dict[str, int]] | None = None
    _numeric: tuple[list[int], pd.Index] | None = None

    def fit(self, frame: pd.DataFrame, y: object = None) -> FrameEncoder:
        self.columns_ = list(frame.columns)
        self.levels_ = {
            c: sorted(frame[c].dropna().astype(str).unique())
            for c in frame.columns
            if not pd.api.types.is_numeric_dtype(frame[c])
        }
        self._indexes, self._codes, self._numeric = None, None, None  # stale after a refit
        return self

    def _numeric_columns(self) -> tuple[list[int], pd.Index]:
        """Positions and names of the numeric columns, found once (per call: a row's cost)."""
        if self._numeric is None:
            at = [j for j, c in enumerate(self.columns_) if c not in self.levels_]
            self._numeric = (at, pd.Index([self.columns_[j] for j in at], dtype=object))
        return self._numeric

    def _level_indexes(self) -> dict[str, pd.Index]:
        """The levels as indexes, built once (a lookup per call costs more than one row)."""
        if self._indexes is None:
            self._indexes = {c: pd.Index(levels) for c, levels in self.levels_.items()}
        return self._indexes

    def _level_codes(self) -> dict[str, dict[str, int]]:
        """The levels as {level: code} dicts, built once: the lookup for a few rows."""
        if self._codes is None:
            self._codes = {c: {v: i for i, v in enumerate(ls)} for c, ls in self.levels_.items()}
        return self._codes

    def _encode(self, column: str, values: np.ndarray) -> np.ndarray:
        """Codes of a text column's values (an object array) as text (-1: not a level). A few
        rows go through a dict, since pandas' per-call overhead is most of the cost there;
        both map str(value)."""
        if len(values) > SMALL:
            text = pd.Series(values, copy=False).astype(str)
            return self._level_indexes()[column].get_indexer(text)
        codes = self._level_codes()[column]
        return np.array([codes.get(_text(v), -1) for v in values], dtype=int)

    @property
    def categorical_(self) -> list[int]:
        return [self.columns_.index(c) for c in self.levels_]

    def transform(self, features: pd.DataFrame | Table) -> np.ndarray:
        """Rows as the model's float matrix, read column by column from a frame or a table."""
        table = Table.of(features)
        self._require(set(table.columns))
        numeric, names = self._numeric_columns()
        block = np.empty((len(names), len(table)))
        for k, name in enumerate(names):
            values = np.asarray(table.columns[name])
            if values.dtype == object:  # None and pd.NA are NaN
                values = np.where(pd.isna(values), np.nan, values)
            block[k] = values
        matrix = np.empty((len(table), len(self.columns_)))
        matrix[:, numeric] = block.T
        self._fill_levels(
            matrix, {c: np.asarray(table.columns[c], dtype=object) for c in self.levels_}
        )
        return matrix

    def _require(self, present: set[str]) -> None:
        missing = [c for c in self.columns_ if c not in present]
        if missing:
            raise ValueError(
                f"feature columns missing: {', '.join(missing[:5])}"
                f"{' …' if len(missing) > 5 else ''}; build features with the model's config"
            )

    def _fill_levels(self, matrix: np.ndarray, texts: Mapping[str, np.ndarray]) -> None:
        """The text columns' codes into their places in `matrix`; missing or unknown: NaN."""
        for column, values in texts.items():
            codes = self._encode(column, values)
            missing = (codes < 0) | pd.isna(values)
            matrix[:, self.columns_.index(column)] = np.where(missing, np.nan, codes)

    def unknown_levels(self, features: pd.DataFrame | Table) -> dict[str, list[str]]:
        """Values of text columns never seen in training (the endpoint refuses them)."""
        table, found = Table.of(features), {}
        for column, levels in self.levels_.items():
            values = pd.Series(table[column]).dropna().astype(str)
            unseen = sorted(set(values) - set(levels))
            if unseen:
                found[column] = unseen
        return found


class Calibrator(BaseEstimator):
    """Maps raw scores (probabilities before calibration) to probabilities: isotonic, Platt
    (sigmoid of the logit), or none (the raw score itself)."""

    def __init__(self, method: str = "isotonic") -> None:
        self.method = method

    def fit(self, raw: np.ndarray, y: np.ndarray) -> Calibrator:
        if self.method == "isotonic":
            self.model_: Any = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0)
            self.model_.fit(raw, y)
        elif self.method == "sigmoid":
            self.model_ = LogisticRegression().fit(logit(raw)[:, None], y)
        elif self.method == "none":
            self.model_ = None
        else:
            raise ValueError(f"calibration {self.method!r}: use isotonic, sigmoid or none")
        return self

    def predict(self, raw: np.ndarray) -> np.ndarray:
        """The fitted curve applied as scikit-learn's `predict` applies it, without its input
        checks (for one customer they cost more than the curve; raw scores are probabilities,
        always finite). Isotonic steps would tie every score on a step and so lose the model's
        order: a slope of `TIE_SLOPE` keeps it, far below any probability anyone reads."""
        raw = np.asarray(raw, dtype=float).reshape(-1)
        model = self.model_
        if self.method == "none":
            return np.clip(raw, 0.0, 1.0)
        if self.method == "isotonic":  # IsotonicRegression: clip, then its interpolation
            curve = np.asarray(model.f_(np.clip(raw, model.X_min_, model.X_max_)), dtype=float)
            return (1 - TIE_SLOPE) * curve + TIE_SLOPE * np.clip(raw, 0.0, 1.0)
        score = (logit(raw)[:, None] @ model.coef_.T + model.intercept_).reshape(-1)
        return np.asarray(expit(score), dtype=float)  # LogisticRegression: class 1 of 2


TIE_SLOPE = 1e-6


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def lightgbm_params(config: ModelConfig) -> dict[str, object]:
    """LightGBM settings from the config; deterministic for a given seed and thread count."""
    return {
        "objective": "binary",
        "learning_rate": config.learning_rate,
        "num_leaves": config.num_leaves,
        "min_data_in_leaf": config.min_child_samples,
        "feature_fraction": config.feature_fraction,
        "bagging_fraction": config.bagging_fraction,
        "bagging_freq": 1,
        "lambda_l2": config.lambda_l2,
        "num_threads": config.threads,
        "seed": config.seed,
        "deterministic": True,
        "force_col_wise": True,
        "verbosity": -1,
    }


def boost_held_out(
    params: dict[str, object],
    train: lgb.Dataset,
    valid: lgb.Dataset,
    config: ModelConfig,
) -> tuple[lgb.Booster, int]:
    """LightGBM trained on `train` and stopped early on `valid`; the booster and its best
    number of rounds."""
    booster = lgb.train(
        params,
        train,
        num_boost_round=config.max_rounds,
        valid_sets=[valid],
        callbacks=[lgb.early_stopping(config.early_stopping_rounds, verbose=False)],
    )
    return booster, int(booster.best_iteration or config.max_rounds)


class BoostedClassifier(BaseEstimator):
    """LightGBM stopped early on a slice it never trains on (calibration is the RiskModel's)."""

    def __init__(
        self,
        config: ModelConfig | None = None,
        encoder: FrameEncoder | None = None,
        directions: Mapping[str, int] | None = None,
    ):
        self.config = config
        self.encoder = encoder  # a fitted encoder to share between models, or None to fit one
        self.directions = directions  # per feature: +1/-1 keeps that direction (config.monotone)

    def fit(
        self,
        train: pd.DataFrame,
        y_train: np.ndarray,
        stop: pd.DataFrame,
        y_stop: np.ndarray,
    ) -> BoostedClassifier:
        config = self.config or ModelConfig()
        self.encoder_ = self.encoder if self.encoder is not None else FrameEncoder().fit(train)
        cats = self.encoder_.categorical_
        data = lgb.Dataset(self.encoder_.transform(train), y_train, categorical_feature=cats)
        valid = data.create_valid(self.encoder_.transform(stop), y_stop)
        params = lightgbm_params(config)
        if config.monotone and self.directions:
            ways = [int(self.directions.get(c, 0)) for c in self.encoder_.columns_]
            if any(ways):
                params["monotone_constraints"] = ways
        self.booster_, self.best_iteration_ = boost_held_out(params, data, valid, config)
        return self

    @property
    def feature_names_(self) -> list[str]:
        return list(self.encoder_.columns_)

    def predict_raw(self, frame: pd.DataFrame) -> np.ndarray:
        return self.predict_matrix_raw(self.encoder_.transform(frame))

    def predict_matrix_raw(self, matrix: np.ndarray) -> np.ndarray:
        """LightGBM's probabilities (models/flat_trees.py walks the trees, compiled)."""
        from cxml.models.flat_trees import tree_probabilities  # numba's import when predicting

        return tree_probabilities(self.booster_, matrix, self.best_iteration_)

    def contributions(self, matrix: np.ndarray) -> np.ndarray:
        """TreeSHAP in log-odds, rows x (columns + 1), the base value last (LightGBM's
        `pred_contrib`, from tables: models/treeshap.py)."""
        from cxml.models.treeshap import tree_contributions  # numba's import only when explaining

        if not len(matrix):
            return np.empty((0, len(self.feature_names_) + 1))
        return tree_contributions(self.booster_, matrix, self.best_iteration_)


def rfm_columns(columns: list[str]) -> list[str]:
    return [c for c in columns if c.startswith(RFM_PREFIXES)]
