"""The risk model a bundle ships for one target, and how it is chosen.

Three candidates are fitted on the same training rows: gradient-boosted trees, the logistic
baseline, and their blend (the mean of the two in log-odds). On data nobody here has seen, trees
are not always better than a regression (a purchase log with four informative numbers is
linear enough), so the one that ranks the held-out recent rows best is shipped, and the run says
which. Its probabilities are then calibrated on those recent rows, by the method (sigmoid,
isotonic or none) whose cross-validated log-loss there is lowest: the rows nearest to scoring
set the level, not the oldest. Every candidate explains itself exactly in log-odds, so reasons
work whichever is shipped. Pure: arrays in, arrays out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, cast

import numpy as np
from scipy.special import expit
from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

from cxml.models.evaluate import auc_difference
from cxml.models.train import BoostedClassifier, Calibrator, logit

Kind = Literal["boosted", "blend", "logistic"]
#: The weight of the trees in log-odds; the rest is the logistic regression's.
WEIGHTS: dict[str, float] = {"logistic": 0.0, "blend": 0.5, "boosted": 1.0}
#: Platt's sigmoid first (two parameters: the usual default), then none, then isotonic
METHODS = ("sigmoid", "none", "isotonic")
LOG_ODDS_BLOCK = 16_384  # rows per step of LinearRisk.log_odds


class LinearRisk(BaseEstimator):
    """Logistic regression on the encoded feature matrix: numbers median-imputed (with a flag
    where training had gaps) and scaled, those never negative in training (counts, amounts,
    days) on a log1p scale, where a regression reads their long tails best; categorical codes
    one-hot. Its log-odds split exactly
    into one contribution per feature. A feature with a direction in the catalog never gets a
    coefficient against it: such a feature is left out and the model refitted."""

    def __init__(
        self,
        columns: Sequence[str],
        categorical: Sequence[int] = (),
        directions: Mapping[str, int] | None = None,
        use: Sequence[str] | None = None,
    ) -> None:
        self.columns = columns
        self.categorical = categorical
        self.directions = directions
        self.use = use  # the columns it may read (None: all), e.g. the RFM ones

    def fit(self, matrix: np.ndarray, y: np.ndarray) -> LinearRisk:
        allowed = set(self.columns if self.use is None else self.use)
        self.kept_ = [j for j, name in enumerate(self.columns) if name in allowed]
        if not self.kept_:
            raise ValueError("the logistic model has no columns to read: check baseline_features")
        for _ in range(len(self.kept_)):
            self._fit_once(matrix, y)
            against = self._against_direction()
            if not against:
                break
            self.kept_ = [j for j in self.kept_ if j not in against]
        return self

    def _fit_once(self, matrix: np.ndarray, y: np.ndarray) -> None:
        self._learn_design(matrix)
        design = self._design(matrix)
        self.mean_ = design.mean(axis=0)
        self.scale_ = np.where(design.std(axis=0) > 0, design.std(axis=0), 1.0)
        model = LogisticRegression(max_iter=2000).fit((design - self.mean_) / self.scale_, y)
        self.coef_ = model.coef_[0] / self.scale_  # on the unscaled design
        self.intercept_ = float(model.intercept_[0] - self.coef_ @ self.mean_)

    def _learn_design(self, matrix: np.ndarray) -> None:
        """Per kept column: its median and, where training had gaps, a gap flag; or its
        levels."""
        cats = set(self.categorical)
        self.parts_: list[_Part] = []
        for j in self.kept_:
            values = matrix[:, j]
            known = values[~np.isnan(values)]
            if j in cats:
                self.parts_.append(_Part(j, "levels", levels=np.unique(known)))
                continue
            log = bool(len(known)) and float(known.min()) >= 0
            scaled = np.log1p(known) if log else known
            middle = float(np.median(scaled)) if len(known) else 0.0
            self.parts_.append(_Part(j, "number", middle, log=log))
            if len(known) < len(values):
                self.parts_.append(_Part(j, "gap"))

    def _design(self, matrix: np.ndarray) -> np.ndarray:
        """The design columns of `matrix`, each kind of part filled at once (one request's
        row would otherwise pay a few numpy calls per part)."""
        plan = self._plan()
        design = np.empty((len(matrix), plan.width))
        values = matrix[:, plan.number_from]
        used = np.where(plan.log, np.log1p(np.maximum(values, 0.0)), values)
        design[:, plan.number_at] = np.where(np.isnan(values), plan.median, used)
        design[:, plan.gap_at] = np.isnan(matrix[:, plan.gap_from])
        design[:, plan.level_at] = matrix[:, plan.level_from] == plan.level
        return design

    def _plan(self) -> _Plan:
        """Where each part's design columns go, worked out once from the fitted parts."""
        if getattr(self, "plan_parts_", None) is not self.parts_:
            self.plan_ = _Plan.of(self.parts_)
            self.plan_parts_ = self.parts_
        return self.plan_

    def _groups(self) -> np.ndarray:
        """The source column of each design column."""
        return np.repeat([p.column for p in self.parts_], [p.width for p in self.parts_])

    def _against_direction(self) -> set[int]:
        """Kept columns whose value got a coefficient against their catalog direction."""
        ways, against, k = self.directions or {}, set(), 0
        for part in self.parts_:
            way = ways.get(self.columns[part.column], 0)
            if part.kind == "number" and way * self.coef_[k] < 0:
                against.add(part.column)
            k += part.width
        return against

    def log_odds(self, matrix: np.ndarray) -> np.ndarray:
        """Added up column by column in a fixed order, intercept first (a matrix product or a
        row sum rounds differently with the number of rows): a customer scores the same alone
        or in a coalesced call. A running sum along each row keeps that order in one numpy
        call; rows go in blocks, so a large batch's design never all sits in memory."""
        total = np.full(len(matrix), float(self.intercept_))
        if self._plan().width == 0:
            return total
        for start in range(0, len(matrix), LOG_ODDS_BLOCK):
            terms = self._design(matrix[start : start + LOG_ODDS_BLOCK])
            terms *= self.coef_
            terms[:, 0] += self.intercept_
            total[start : start + LOG_ODDS_BLOCK] = np.add.accumulate(terms, axis=1)[:, -1]
        return total

    def predict_matrix_raw(self, matrix: np.ndarray) -> np.ndarray:
        """The (uncalibrated) probability of the outcome, one per row."""
        return np.asarray(expit(self.log_odds(matrix)), dtype=float)

    def contributions(self, matrix: np.ndarray) -> np.ndarray:
        """rows x (columns + 1) in log-odds, the base value last: base + row sum = log-odds."""
        centred = (self._design(matrix) - self.mean_) * self.coef_
        out = np.zeros((len(matrix), len(self.columns) + 1))
        np.add.at(out.T, self._groups(), centred.T)
        out[:, -1] = self.intercept_ + self.coef_ @ self.mean_
        return out


@dataclass(frozen=True)
class _Part:
    """Design columns made from one encoded column: its value (gaps filled with the median), a
    gap flag, or one indicator per level."""

    column: int
    kind: Literal["number", "gap", "levels"]
    median: float = 0.0  # of the values as used (on the log1p scale when `log`)
    levels: np.ndarray | None = None
    log: bool = False

    @property
    def width(self) -> int:
        return len(self.levels) if self.levels is not None else 1


@dataclass(frozen=True)
class _Plan:
    """The fitted parts as index arrays: design column and source column per number, gap flag
    and level indicator, so a design fills in three vector steps."""

    width: int
    number_at: np.ndarray
    number_from: np.ndarray
    median: np.ndarray
    log: np.ndarray
    gap_at: np.ndarray
    gap_from: np.ndarray
    level_at: np.ndarray
    level_from: np.ndarray
    level: np.ndarray

    @classmethod
    def of(cls, parts: Sequence[_Part]) -> _Plan:
        at = np.cumsum([0] + [p.width for p in parts])
        numbers = [(at[i], p) for i, p in enumerate(parts) if p.kind == "number"]
        gaps = [(at[i], p) for i, p in enumerate(parts) if p.kind == "gap"]
        levels = [
            (at[i] + k, p.column, level)
            for i, p in enumerate(parts)
            if p.levels is not None
            for k, level in enumerate(p.levels)
        ]
        ints = lambda xs: np.array(xs, dtype=np.int64)  # noqa: E731
        return cls(
            width=int(at[-1]),
            number_at=ints([a for a, _ in numbers]),
            number_from=ints([p.column for _, p in numbers]),
            median=np.array([p.median for _, p in numbers], dtype=float),
            log=np.array([p.log for _, p in numbers], dtype=bool),
            gap_at=ints([a for a, _ in gaps]),
            gap_from=ints([p.column for _, p in gaps]),
            level_at=ints([a for a, _, _ in levels]),
            level_from=ints([c for _, c, _ in levels]),
            level=np.array([v for _, _, v in levels], dtype=float),
        )


class RiskModel(BaseEstimator):
    """The shipped model of one target: trees, logistic regression or their blend in log-odds
    (`kind`), then a calibrator. Raw scores are probabilities before calibration."""

    def __init__(self, boosted: BoostedClassifier, linear: LinearRisk, kind: Kind) -> None:
        self.boosted = boosted
        self.linear = linear
        self.kind = kind
        self.heldout_auc_: dict[str, float] = {}  # each candidate's, where it was chosen

    def calibrate(self, matrix: np.ndarray, y: np.ndarray, method: str, seed: int) -> RiskModel:
        """Fit the calibrator on these rows (`method` 'auto': the lowest cross-validated
        log-loss of sigmoid, isotonic and none)."""
        raw = self.predict_matrix_raw(matrix)
        self.method_ = best_calibration(raw, y, seed) if method == "auto" else method
        self.calibrator_ = Calibrator(self.method_).fit(raw, y)
        return self

    def predict_matrix_raw(self, matrix: np.ndarray) -> np.ndarray:
        weight = WEIGHTS[self.kind]
        if weight == 1.0:
            return self.boosted.predict_matrix_raw(matrix)
        if weight == 0.0:
            return self.linear.predict_matrix_raw(matrix)
        trees = logit(self.boosted.predict_matrix_raw(matrix))
        return np.asarray(expit(weight * trees + (1 - weight) * self.linear.log_odds(matrix)))

    def calibrated(self, raw: np.ndarray) -> np.ndarray:
        """Probabilities from raw scores (`predict_matrix_raw`'s)."""
        return self.calibrator_.predict(raw)

    def predict_matrix(self, matrix: np.ndarray) -> np.ndarray:
        return self.calibrated(self.predict_matrix_raw(matrix))

    def contributions(self, matrix: np.ndarray) -> np.ndarray:
        """Exact per-feature contributions in log-odds before calibration, the base value in
        the last column (TreeSHAP for the trees, coefficient x centred value for the
        regression, their weighted mean for the blend)."""
        weight = WEIGHTS[self.kind]
        out = np.zeros((len(matrix), len(self.linear.columns) + 1))
        if weight > 0:
            out += weight * self.boosted.contributions(matrix)
        if weight < 1:
            out += (1 - weight) * self.linear.contributions(matrix)
        return out


SIMPLEST_FIRST: tuple[Kind, ...] = ("logistic", "blend", "boosted")


def candidate_scores(
    boosted: BoostedClassifier, linear: LinearRisk, matrix: np.ndarray
) -> dict[Kind, np.ndarray]:
    """Each candidate's raw scores on these rows."""
    return {k: RiskModel(boosted, linear, k).predict_matrix_raw(matrix) for k in SIMPLEST_FIRST}


def choose_kind(
    y: np.ndarray, scores: Mapping[Kind, np.ndarray], configured: str = "auto", seed: int = 0
) -> tuple[Kind, dict[str, float]]:
    """The configured kind, or ('auto') the simplest candidate (logistic, then blend, then the
    trees) that ranks the held-out rows as well as the best one within the noise of a paired
    bootstrap: a more complex model is shipped only when it is clearly better there, since a
    difference smaller than the noise does not hold out of time. Also each one's AUC. With
    one class only there is nothing to go by: the trees."""
    fixed = cast(Kind, configured) if configured != "auto" else None
    if len(np.unique(y)) < 2:
        return fixed or "boosted", dict.fromkeys(scores, float("nan"))
    aucs: dict[str, float] = {k: float(roc_auc_score(y, p)) for k, p in scores.items()}
    if fixed is not None:
        return fixed, aucs
    best = max(SIMPLEST_FIRST, key=lambda k: aucs[k])
    for kind in SIMPLEST_FIRST:
        if kind == best or auc_difference(y, scores[best], scores[kind], 500, seed)[1] <= 0:
            return kind, aucs  # the best, or not clearly worse than it
    return best, aucs


def best_calibration(raw: np.ndarray, y: np.ndarray, seed: int, folds: int = 5) -> str:
    """The first calibration of `METHODS` whose cross-fitted log-loss on these rows is not
    clearly worse than the best one's (within two standard errors of the paired per-row
    difference): a more flexible curve must earn its place, as one fitted to noise only moves
    probabilities around. 'sigmoid' when there are too few of either class to tell."""
    y = np.asarray(y, dtype=int)
    if min(np.bincount(y, minlength=2)) < folds:
        return "sigmoid"
    losses = {method: np.empty(len(y)) for method in METHODS}
    split = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for fit_rows, test_rows in split.split(raw, y):
        for method in METHODS:
            curve = Calibrator(method).fit(raw[fit_rows], y[fit_rows])
            p = np.clip(curve.predict(raw[test_rows]), 1e-6, 1 - 1e-6)
            losses[method][test_rows] = -(
                y[test_rows] * np.log(p) + (1 - y[test_rows]) * np.log1p(-p)
            )
    best = min(METHODS, key=lambda m: losses[m].mean())
    for method in METHODS:
        gap = losses[method] - losses[best]
        if gap.mean() - 2 * gap.std(ddof=1) / np.sqrt(len(gap)) <= 0:
            return method
    return best
