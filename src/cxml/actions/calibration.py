"""Honest expected gains: the uplift learner's effects calibrated against what happened.

A learner ranks customers better than it measures them: its largest estimated effects are the
most overstated, and they are the ones an allocation picks. On the campaigns it learns from,
cross-fitted (`cross_fitted`: a learner fitted on one half of the customers estimates the
other half's effects), every row × action gets a doubly robust pseudo-outcome of its effect
(actions/offpolicy.py; logged propensities, or out-of-fold estimates where none was logged),
unbiased whatever the learner said. Then:
- each action's estimates are moved to that action's measured mean effect, and
- their spread around it is scaled by one slope, the least-squares fit of pseudo-outcome on
  estimate within each action, pooled over the actions (a slope below 1: part of the learner's
  differences between customers is noise, and is shrunk away), carried over from the halves to
  the learner fitted on all the rows by how much less its estimates spread (`for_learner`);

    calibrated(i, a) = measured_a + slope × (estimate(i, a) − estimated_a)

The pseudo-outcomes are noisy (one campaign of 20,000 customers measures an action's mean
effect about as precisely as the effect's own size), so the measurements move the learner's
numbers only as far as they stand out of their own noise (empirical Bayes, positive part): an
action's mean goes from the learner's toward the measured one by the weight s² / (s² + v), v
its bootstrap variance and s² how far the learner's means miss the measured ones beyond that
noise (pooled over the actions); the slope goes from 1 (the learner as it is) toward the
fitted one alike.

The uncertainty of each calibrated effect comes from bootstrapping the rows:
the covariance of (measured_a, slope) gives a standard error per customer and action. It is the
uncertainty of the calibration, not of one customer's outcome, which no model can predict.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import brentq
from scipy.special import expit

from cxml.actions.offpolicy import dr_terms, ips_terms
from cxml.models.metalearner import anchored, cross_fitted_propensity
from cxml.models.train import logit

Z90 = 1.6449  # a two-sided 90% interval: ±1.645 standard errors
#: Estimated effects whose standard deviation is below this rank no one: a learner that learned
#: no difference between its arms gives one effect, give or take rounding, and a slope fitted
#: to that rounding would be any number.
NO_SPREAD = 1e-6


@dataclass(frozen=True)
class UpliftCalibration:
    """What `calibrate` learned; plain numbers, so it travels in a bundle's info."""

    actions: tuple[str, ...]
    measured: tuple[float, ...]  # per action: its mean effect on the rows (doubly robust)
    estimated: tuple[float, ...]  # per action: the learner's mean estimate on the same customers
    slope: float
    var_measured: tuple[float, ...]  # bootstrap variance of `measured`, per action
    cov_measured_slope: tuple[float, ...]  # bootstrap covariance with the slope, per action
    var_slope: float
    rows: int  # customer × campaign rows that measured it
    fitted_measured: tuple[float, ...] = ()  # before the shrinkage toward the learner
    fitted_slope: float = 1.0

    def apply(self, estimates: np.ndarray, names: Sequence[str]) -> np.ndarray:
        """The calibrated effects of `estimates` (rows × `names`); actions it did not see
        are left as estimated."""
        out = np.asarray(estimates, dtype=float).copy()
        for j, name in enumerate(names):
            if name in self.actions:
                k = self.actions.index(name)
                out[:, j] = self.measured[k] + self.slope * (out[:, j] - self.estimated[k])
        return out

    def centred(self, names: Sequence[str], means: np.ndarray) -> UpliftCalibration:
        """The same calibration with its spread scaled around `means` (per action in `names`:
        the mean estimate over today's customers) instead of around the campaigns' mean: the
        learner's bias (measured − estimated) is kept. Today's effects move with today's churn
        level (models/metalearner.anchored), so shrinking them toward the campaigns' mean would
        bring back the level the anchoring took away.

        A calibration without a slope stays as it is: the campaigns did not confirm the
        learner's ranking, so every customer gets the measured mean, and the "bias" of learners
        that learned nothing (on a small base the cross-fitted halves can give every action a
        zero effect) is the whole effect, which added to today's mean would count it twice."""
        if self.slope == 0:
            return self
        today = dict(zip(names, np.asarray(means, dtype=float), strict=True))
        estimated = [today.get(a, e) for a, e in zip(self.actions, self.estimated, strict=True)]
        bias = np.subtract(self.measured, self.estimated)
        measured = np.add(estimated, bias)
        return replace(
            self,
            estimated=tuple(float(v) for v in estimated),
            measured=tuple(float(v) for v in measured),
        )

    def for_learner(self, ratio: float) -> UpliftCalibration:
        """The calibration of the learner fitted on all the rows, from the one fitted to its
        cross-fitted halves, whose estimates spread `ratio` times as much on the same customers
        (`spread_ratio`). A half learns from half the rows: the extra spread is noise, and a
        slope fitted to it shrinks the whole learner's real differences as if they were noise
        too (regression dilution). So the fitted slope is scaled by the ratio, its uncertainty
        with it, and then shrunk toward 1 as `calibrate` does. Without a slope nothing changes."""
        if self.slope == 0 or not np.isfinite(ratio) or ratio <= 0:
            return self
        fitted, var = self.fitted_slope * ratio, self.var_slope * ratio**2
        return replace(
            self,
            slope=float(toward(np.array([1.0]), np.array([fitted]), np.array([var]))[0]),
            fitted_slope=fitted,
            var_slope=var,
            cov_measured_slope=tuple(c * ratio for c in self.cov_measured_slope),
        )

    def standard_errors(self, estimates: np.ndarray, names: Sequence[str]) -> np.ndarray:
        """Per row and action, the standard error of the calibrated effect (0 where unseen)."""
        est = np.asarray(estimates, dtype=float)
        out = np.zeros_like(est)
        for j, name in enumerate(names):
            if name in self.actions:
                k = self.actions.index(name)
                d = est[:, j] - self.estimated[k]
                var = self.var_measured[k] + d * d * self.var_slope
                out[:, j] = np.sqrt(np.maximum(var + 2 * d * self.cov_measured_slope[k], 0.0))
        return out

    def as_info(self) -> dict[str, object]:
        return {
            "actions": list(self.actions),
            "measured": list(self.measured),
            "estimated": list(self.estimated),
            "slope": self.slope,
            "var_measured": list(self.var_measured),
            "cov_measured_slope": list(self.cov_measured_slope),
            "var_slope": self.var_slope,
            "rows": self.rows,
            "fitted_measured": list(self.fitted_measured),
            "fitted_slope": self.fitted_slope,
        }

    @classmethod
    def from_info(cls, info: object) -> UpliftCalibration | None:
        if not isinstance(info, Mapping) or "slope" not in info:
            return None
        return cls(
            tuple(str(a) for a in info["actions"]),
            tuple(float(v) for v in info["measured"]),
            tuple(float(v) for v in info["estimated"]),
            float(info["slope"]),
            tuple(float(v) for v in info["var_measured"]),
            tuple(float(v) for v in info["cov_measured_slope"]),
            float(info["var_slope"]),
            int(info["rows"]),
            tuple(float(v) for v in info.get("fitted_measured", ())),
            float(info.get("fitted_slope", 1.0)),
        )


def pseudo_effects(
    good: np.ndarray,
    logged: np.ndarray,
    propensity: np.ndarray,
    names: Sequence[str],
    predicted: pd.DataFrame | None,
) -> np.ndarray:
    """Per customer (rows) and action in `names`: a pseudo-outcome of the action's effect on
    the good outcome (retention) against no action ("none"), unbiased given the logged
    propensities: doubly robust with `predicted` (the learner's P(good) per action, "none"
    included), else inverse-propensity weighted."""
    if predicted is not None:

        def terms(target: str) -> np.ndarray:
            return dr_terms(good, logged, propensity, target, predicted)
    else:

        def terms(target: str) -> np.ndarray:
            return ips_terms(good, logged, propensity, target)

    nobody = terms("none")
    return np.column_stack([terms(a) - nobody for a in names])


def _fit(
    estimates: np.ndarray, pseudo: np.ndarray, weight: np.ndarray
) -> tuple[np.ndarray, np.ndarray, float]:
    """Each action's weighted mean pseudo-outcome and estimate, and the pooled weighted slope."""
    measured = np.average(pseudo, axis=0, weights=weight)
    estimated = np.average(estimates, axis=0, weights=weight)
    dx, dy = estimates - estimated, pseudo - measured
    w = (weight / weight.mean())[:, None]
    spread = float((w * dx * dx).sum())
    ranks = spread > len(estimates) * NO_SPREAD**2  # not rounding noise around one value
    slope = float((w * dx * dy).sum()) / spread if ranks else 0.0
    return measured, estimated, max(slope, 0.0)  # an anti-ranking learner: everyone the mean


def calibrate(
    estimates: np.ndarray,
    pseudo: np.ndarray,
    names: Sequence[str],
    n_boot: int = 200,
    seed: int = 0,
    weight: np.ndarray | None = None,
) -> UpliftCalibration:
    """The calibration of `estimates` (rows × `names`) against their `pseudo_effects`, each
    row counted `weight` times (None: once), with the bootstrap (over rows) covariance of its
    parameters."""
    est, ps = np.asarray(estimates, dtype=float), np.asarray(pseudo, dtype=float)
    if est.shape != ps.shape or est.ndim != 2 or len(est) < 2:
        raise ValueError(f"estimates {est.shape} and pseudo-outcomes {ps.shape} must match")
    w = np.ones(len(est)) if weight is None else np.asarray(weight, dtype=float)
    measured, estimated, slope = _fit(est, ps, w)
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(n_boot):
        rows = rng.integers(0, len(est), len(est))
        m, _, s = _fit(est[rows], ps[rows], w[rows])
        draws.append(np.append(m, s))
    cov = np.cov(np.asarray(draws), rowvar=False)
    k = len(names)
    var = np.diag(cov)
    return UpliftCalibration(
        actions=tuple(names),
        measured=tuple(float(v) for v in toward(estimated, measured, var[:k])),
        estimated=tuple(float(v) for v in estimated),
        slope=float(toward(np.array([1.0]), np.array([slope]), var[k:])[0]),
        var_measured=tuple(float(cov[j, j]) for j in range(k)),
        cov_measured_slope=tuple(float(cov[j, k]) for j in range(k)),
        var_slope=float(cov[k, k]),
        rows=len(est),
        fitted_measured=tuple(float(v) for v in measured),
        fitted_slope=slope,
    )


def spread_ratio(halves: Sequence[np.ndarray], whole: np.ndarray) -> float:
    """How many times as much the half-learners' estimates spread (squared deviations from
    each action's mean, averaged over the halves) as the whole learner's, on the same customers
    (rows × actions); 1 when the whole learner's do not spread."""

    def spread(estimates: np.ndarray) -> float:
        deviations = estimates - estimates.mean(axis=0)
        return float((deviations * deviations).sum())

    if spread(whole) <= whole.size * NO_SPREAD**2:
        return 1.0
    return float(np.mean([spread(h) for h in halves])) / spread(whole)


def toward(prior: np.ndarray, measured: np.ndarray, var: np.ndarray) -> np.ndarray:
    """`prior` moved toward `measured` by s² / (s² + var), where s² = how far they differ
    beyond `var`, pooled (positive-part empirical Bayes): noise alone moves nothing."""
    signal = max(float(np.mean((measured - prior) ** 2 - var)), 0.0)
    weight = np.divide(signal, signal + var, out=np.zeros_like(var), where=signal + var > 0)
    return prior + weight * (measured - prior)


def cross_fitted(
    new_learner: Callable[[], Any],
    features: pd.DataFrame,
    treatment: np.ndarray,
    good: np.ndarray,
    logged: np.ndarray,
    customers: np.ndarray,
    names: Sequence[str],
    control: str,
    seed: int = 0,
    campaigns: np.ndarray | None = None,
    weight: np.ndarray | None = None,
) -> tuple[UpliftCalibration, list[Any]]:
    """The calibration of a learner's effects on the very campaigns it learns from, without
    judging it on its own rows, and the two half-learners it was fitted to (`for_learner`
    carries it over to the learner fitted on all the rows): the customers split in two, a
    learner (`new_learner()`) fitted on each half estimates the other's effects, and every
    row's pseudo-outcome uses its logged propensity (`logged`, NaN where none was) or an
    out-of-fold estimate. Every earlier campaign checks the effects, instead of one.

    `campaigns` (each row's campaign), when scoring takes the effects at a calibrated level
    (models/metalearner.anchored): a learner that models each arm then has each campaign's
    effects taken at the level that campaign measured (`campaign_levels`), so the calibration
    judges the effects, not how far the history's level is from each campaign's. `weight`:
    how many rows each stands for (`censoring_weights`), in the fits and the calibration."""
    n, arms = len(features), np.asarray(treatment, dtype=object)
    ids = pd.factorize(np.asarray(customers))[0]
    half = np.random.default_rng(seed).permutation(ids.max() + 1) % 2
    fold = half[ids]
    estimates = np.empty((n, len(names)))
    predicted = pd.DataFrame(np.nan, index=range(n), columns=["none", *names])
    learner: Any = None
    halves = []
    for part in (0, 1):
        train, held = fold != part, fold == part
        known = logged[train]
        learner = new_learner().fit(
            features[train],
            arms[train],
            good[train],
            known if np.isfinite(known).any() else None,
            None if weight is None else weight[train],
        )
        halves.append(learner)
        estimates[held] = learner.predict_uplift(features[held])[list(names)].to_numpy(float)
        if learner.gives_outcomes:
            outcomes = learner.predict_outcomes(features[held]).rename(columns={control: "none"})
            shown = outcomes.reindex(columns=predicted.columns).to_numpy(float)
            predicted.iloc[np.flatnonzero(held)] = shown
    propensity = np.asarray(logged, dtype=float)
    if np.isnan(propensity).any():
        estimated = cross_fitted_propensity(learner.encode(features), arms, 3, seed)
        propensity = np.where(np.isnan(propensity), estimated, propensity)
    taken = np.where(arms == control, "none", arms)
    model = predicted if learner.gives_outcomes else None
    pseudo = pseudo_effects(np.asarray(good, float), taken, propensity, names, model)
    if campaigns is not None and model is not None:
        nobody = dr_terms(np.asarray(good, float), taken, propensity, "none", model)
        own = model["none"].to_numpy(float)
        level = campaign_levels(own, nobody, np.asarray(campaigns), weight)
        outcomes = {a: model[a].to_numpy(float) for a in ["none", *names]}
        estimates = anchored(outcomes, "none", names, level)
    return calibrate(estimates, pseudo, names, seed=seed, weight=weight), halves


def campaign_levels(
    own: np.ndarray, nobody: np.ndarray, campaigns: np.ndarray, weight: np.ndarray | None = None
) -> np.ndarray:
    """Per row, P(good | no action) at its campaign's measured level: the learner's control arm
    (`own`) moved in log-odds by one constant per campaign, so that its mean meets the (row-
    `weight`ed) mean of that campaign's doubly robust terms for no action (`nobody`)."""
    start = logit(own)
    level = np.empty(len(own))
    for campaign in pd.unique(campaigns):
        rows = campaigns == campaign
        w = None if weight is None else weight[rows]
        target = float(np.clip(np.average(nobody[rows], weights=w), 1e-6, 1 - 1e-6))
        shift = brentq(_mean_gap, -30.0, 30.0, args=(start[rows], target))
        level[rows] = expit(start[rows] + shift)
    return level


def _mean_gap(shift: float, log_odds: np.ndarray, target: float) -> float:
    return float(expit(log_odds + shift).mean()) - target
