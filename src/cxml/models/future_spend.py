"""What a customer will spend over the next window: LightGBM on the point-in-time features.

The target is skewed and mostly zero (many buy nothing), so the objective is Tweedie: a
point mass at zero and a long right tail, with predictions that are never negative.
"""

from __future__ import annotations

from dataclasses import dataclass

import lightgbm as lgb
import numpy as np

from cxml.config import ModelConfig
from cxml.models.train import boost_held_out, lightgbm_params

__all__ = ["SpendModel"]


@dataclass
class SpendModel:
    """Expected spend in the window the model was fitted on, per row of a feature matrix."""

    booster: lgb.Booster
    rounds: int

    @classmethod
    def fit(
        cls,
        matrix: np.ndarray,
        spend: np.ndarray,
        stop: np.ndarray,
        config: ModelConfig | None = None,
    ) -> SpendModel:
        """Fit on the rows not in `stop`, stopping early on the `stop` rows (whole customers)."""
        config = config or ModelConfig()
        held = np.asarray(stop, dtype=bool)
        y = np.clip(np.asarray(spend, dtype=float), 0.0, None)
        train = lgb.Dataset(matrix[~held], y[~held])
        valid = train.create_valid(matrix[held], y[held])
        params = lightgbm_params(config) | {"objective": "tweedie", "metric": "tweedie"}
        return cls(*boost_held_out(params, train, valid, config))

    def predict(self, matrix: np.ndarray) -> np.ndarray:
        return np.asarray(self.booster.predict(matrix, num_iteration=self.rounds), dtype=float)
