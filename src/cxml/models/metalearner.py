"""What the uplift meta-learners share: the base estimator (arms, propensities, encoding) and
the LightGBM settings and helpers its subclasses fit their arm models with (see uplift.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Self, TypeAlias

import lightgbm as lgb
import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.special import expit
from sklearn.base import BaseEstimator
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from cxml.features.table import Table
from cxml.models.train import FrameEncoder, logit

Params = dict[str, Any]
Arr = np.ndarray
Logged: TypeAlias = npt.ArrayLike | None  # logged propensities, if any
Features: TypeAlias = pd.DataFrame | Table | np.ndarray

#: Small-data defaults: small trees, large leaves and a slow rate, because uplift is a small
#: difference between two noisy rates and overfitting either arm swamps it (on Hillstrom, inside
#: one training half, 7 leaves / 200 rows per leaf ranked better than 15 / 100). One thread:
#: arms of ~10k rows fit faster single-threaded and do not stall on a busy machine; pass
#: {"n_jobs": 2} for larger data. Deterministic for a given seed.
DEFAULT_PARAMS: Params = {
    "n_estimators": 200,
    "learning_rate": 0.05,
    "num_leaves": 7,
    "min_child_samples": 200,
    "reg_lambda": 1.0,
    "n_jobs": 1,
    "deterministic": True,
    "force_col_wise": True,
    "verbose": -1,
}
PROPENSITY_CLIP = 0.01


def lightgbm_params(params: Params | None, seed: int) -> Params:
    """Defaults overridden by the caller's settings; the learner's seed unless one is given."""
    return {**DEFAULT_PARAMS, "random_state": seed, **(params or {})}


def propensity_model() -> Pipeline:
    """Multinomial logistic model of the logged action: smooth, so it does not chase noise."""
    return make_pipeline(
        SimpleImputer(strategy="median", keep_empty_features=True),
        StandardScaler(),
        LogisticRegression(max_iter=1000),
    )


def received_propensity(
    model: Pipeline, matrix: np.ndarray, arms: np.ndarray, clip: float = PROPENSITY_CLIP
) -> np.ndarray:
    """P(the action a row received | x) from a fitted propensity model, clipped to [clip, 1]."""
    proba = model.predict_proba(matrix)
    column = np.searchsorted(model.classes_, arms)
    return np.clip(proba[np.arange(len(arms)), column], clip, 1.0)


class MetaLearner(BaseEstimator):
    """Shared input checks, feature encoding and the uplift frame; subclasses fit the models
    (`_fit`) and estimate the uplift (`_uplift`), and may give each arm's outcome (`_outcomes`)."""

    def __init__(self, control: str, params: Params | None = None, seed: int = 0) -> None:
        self.control = control
        self.params = params
        self.seed = seed

    def fit(
        self,
        X: Features,
        treatment: npt.ArrayLike,
        y: npt.ArrayLike,
        propensity: npt.ArrayLike | None = None,
        sample_weight: npt.ArrayLike | None = None,
    ) -> Self:
        """Learn from rows `X` that received `treatment` (action names) with outcome `y` (0/1);
        `propensity`: the logged chance of the action each row received, if known;
        `sample_weight`: how many rows each stands for (e.g. `censoring_weights`), if not one."""
        matrix, arms, target = self._prepare(X, treatment, y)
        self._fit(matrix, arms, target, propensity, row_weights(sample_weight, len(arms)))
        return self

    def _fit(
        self, matrix: Arr, arms: Arr, target: Arr, propensity: Logged, weight: Arr | None
    ) -> None:
        raise NotImplementedError

    def predict_outcomes(self, X: Features) -> pd.DataFrame:
        """P(y=1 | x, arm) for every arm including control: rows × arms (learners that model
        each arm's outcome; see `gives_outcomes`)."""
        matrix = self._matrix(X)
        return pd.DataFrame(self._outcomes(matrix), index=index_of(X, len(matrix)))

    @property
    def gives_outcomes(self) -> bool:
        return type(self)._outcomes is not MetaLearner._outcomes

    def _outcomes(self, matrix: np.ndarray) -> dict[str, np.ndarray]:
        raise NotImplementedError(f"{type(self).__name__} does not model each arm's outcome")

    def _prepare(
        self, X: Features, treatment: npt.ArrayLike, y: npt.ArrayLike
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Encoded features, action names and 0/1 outcomes, checked; sets `actions_`."""
        arms = np.asarray(treatment).astype(str)
        target = np.asarray(y, dtype=float)
        if not len(arms) == len(target) == n_rows(X):
            raise ValueError(
                f"X, treatment and y have {n_rows(X)}, {len(arms)} and {len(target)} rows: "
                "pass one treatment and one outcome per row of X"
            )
        if not np.isin(target, (0.0, 1.0)).all():
            raise ValueError("y must be 0/1 (1 = the targeted outcome); recode it before fitting")
        names = sorted(set(arms))
        if self.control not in names:
            raise ValueError(
                f"control {self.control!r} is not among the actions {names}: "
                "pass the name the log uses for no action"
            )
        self.actions_ = [name for name in names if name != self.control]
        if not self.actions_:
            raise ValueError("every row is in the control arm: uplift needs at least one action")
        self.encoder_ = FrameEncoder().fit(X) if isinstance(X, pd.DataFrame) else None
        return self._matrix(X), arms, target

    def _matrix(self, X: Features) -> np.ndarray:
        if self.encoder_ is not None:
            if not isinstance(X, pd.DataFrame | Table):
                raise ValueError("the learner was fitted on named features: pass a table of them")
            return self.encoder_.transform(X)
        return np.asarray(X, dtype=float)

    def _propensity(
        self,
        matrix: np.ndarray,
        arms: np.ndarray,
        propensity: npt.ArrayLike | None,
        n_folds: int = 3,
    ) -> np.ndarray:
        """The logged propensities, checked; cross-fitted estimates where none was logged
        (NaN)."""
        if propensity is None:
            return cross_fitted_propensity(matrix, arms, n_folds, self.seed)
        logged = np.asarray(propensity, dtype=float)
        known = ~np.isnan(logged)
        if logged.shape != arms.shape or not ((logged[known] > 0) & (logged[known] <= 1)).all():
            raise ValueError(
                "propensity must hold one probability in (0, 1] per row (NaN: not logged): the "
                "logged chance of the action the row received"
            )
        if known.all():
            return logged
        estimated = cross_fitted_propensity(matrix, arms, n_folds, self.seed)
        return np.where(known, logged, estimated)

    def predict_uplift(self, X: Features, level: npt.ArrayLike | None = None) -> pd.DataFrame:
        """Estimated P(y | x, action) − P(y | x, control): rows × non-control actions. `level`:
        P(y | x, control) per row from a model calibrated for today (see `anchored`)."""
        values = self.predict_uplift_matrix(self._matrix(X), level)
        columns = pd.Index(self.actions_, name="action")
        return pd.DataFrame(values, index=index_of(X, n_rows(X)), columns=columns)

    def encode(self, X: Features) -> np.ndarray:
        """X as the float matrix the models take (`predict_uplift_matrix`'s input)."""
        return self._matrix(X)

    def encodes_like(self, encoder: FrameEncoder) -> bool:
        """True when `encoder` turns a frame into the very matrix this learner would: a
        scorer that encoded the features once can hand that matrix over."""
        own = self.encoder_
        return own is not None and (own.columns_, own.levels_) == (
            encoder.columns_,
            encoder.levels_,
        )

    def predict_uplift_matrix(
        self, matrix: np.ndarray, level: npt.ArrayLike | None = None
    ) -> np.ndarray:
        """`predict_uplift` on an encoded matrix, as an array (columns: `actions_`). With a
        `level`, a learner that models each arm gives its effects there (`anchored`); one that
        does not gives them as estimated."""
        matrix = np.asarray(matrix, dtype=float)
        if level is None or not self.gives_outcomes:
            return self._uplift(matrix)
        level = np.asarray(level, dtype=float)
        return anchored(self._outcomes(matrix), self.control, self.actions_, level)

    def _uplift(self, matrix: np.ndarray) -> np.ndarray:
        raise NotImplementedError


def anchored(
    outcomes: Mapping[str, np.ndarray],
    control: str,
    actions: Sequence[str],
    level: np.ndarray,
) -> np.ndarray:
    """Each action's effect (rows × `actions`): the learner's shift of the log-odds of y from
    the control arm to the action's, applied at `level` (P(y | x, control) per row) instead of
    at the control arm's own estimate.

    Why: the arm models learn from every campaign at once, so their level is the history's,
    while a risk model calibrated out of time gives today's; when today's customers are less
    likely to leave, the same shift saves fewer of them (`make loop`, docs/decisions.md).
    """
    at = np.clip(level, 1e-6, 1 - 1e-6)
    start, own = logit(at), logit(outcomes[control])
    return np.column_stack([expit(start + logit(outcomes[a]) - own) - at for a in actions])


def index_of(X: Features, rows: int) -> pd.Index:
    """The rows' labels: a table's or frame's index, else 0..rows-1."""
    return X.index if isinstance(X, pd.DataFrame | Table) else pd.RangeIndex(rows)


def n_rows(X: Features) -> int:
    return len(X) if isinstance(X, pd.DataFrame | Table) else int(np.shape(X)[0])


def row_weights(sample_weight: npt.ArrayLike | None, rows: int) -> np.ndarray | None:
    """`sample_weight` checked: one finite weight >= 0 per row, not all 0."""
    if sample_weight is None:
        return None
    weight = np.asarray(sample_weight, dtype=float)
    if weight.shape != (rows,) or not (np.isfinite(weight) & (weight >= 0)).all():
        raise ValueError("sample_weight must hold one finite weight >= 0 per row")
    if not weight.any():
        raise ValueError("sample_weight is 0 for every row: nothing to learn from")
    return weight


def inverse_weights(
    propensity: np.ndarray | None, mask: np.ndarray, weight: np.ndarray | None = None
) -> np.ndarray | None:
    """weight/propensity within an arm, scaled to mean 1: reweights the arm to the whole
    population (None: neither given, every row counts once)."""
    if propensity is None and weight is None:
        return None
    weights = np.ones(int(np.count_nonzero(mask))) if weight is None else weight[mask]
    if propensity is not None:
        weights = weights / propensity[mask]
    return weights / weights.mean()


def fit_arm_models(
    matrix: np.ndarray,
    arms: np.ndarray,
    target: np.ndarray,
    names: list[str],
    params: Params,
    propensity: np.ndarray | None = None,
    weight: np.ndarray | None = None,
) -> dict[str, lgb.LGBMClassifier]:
    """One outcome classifier per arm, each on its own rows (weighted by weight/propensity, as
    far as they are given)."""
    models = {}
    for name in names:
        mask = arms == name
        if len(np.unique(target[mask])) < 2:
            raise ValueError(
                f"arm {name!r} has only one outcome value in {mask.sum()} rows: "
                "an outcome model needs both 0s and 1s; pool or drop this action"
            )
        weights = inverse_weights(propensity, mask, weight)
        model = lgb.LGBMClassifier(**params)
        models[name] = model.fit(matrix[mask], target[mask], sample_weight=weights)
    return models


def positive(model: lgb.LGBMClassifier, matrix: np.ndarray) -> np.ndarray:
    return np.asarray(model.predict_proba(matrix), dtype=float)[:, 1]


def cross_fitted_propensity(
    matrix: np.ndarray, arms: np.ndarray, n_folds: int, seed: int
) -> np.ndarray:
    """Out-of-fold P(received action | x), so no row's own assignment informs its weight."""
    result = np.empty(len(arms))
    folds = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    for fit_rows, score_rows in folds.split(matrix, arms):
        model = propensity_model().fit(matrix[fit_rows], arms[fit_rows])
        result[score_rows] = received_propensity(model, matrix[score_rows], arms[score_rows])
    return result


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))
