"""Uplift meta-learners on LightGBM: how much each action raises P(good outcome) over no action.

Next-best-action needs the *gain* of an action, not the response rate under it, so the learners
estimate uplift(x, a) = P(y=1 | x, a) − P(y=1 | x, control) for every non-control action `a`:

* `TLearner` — one classifier per arm; the difference of their probabilities.
* `XLearner` — Künzel et al. (2019): imputed effects per arm, blended by the propensity.
* `DRLearner` — Kennedy (2020): cross-fitted outcome models and propensities give a doubly
  robust pseudo-outcome per action, regressed on the features.

Inputs (all learners): `X` is a 2-D numeric array or a DataFrame; DataFrame text / category
columns are ordinal-coded with the levels seen in `fit` (unseen levels become missing, which
LightGBM routes on its own), so no encoding is needed outside. `treatment` holds action names,
`control` names the no-action arm, every other name is an action. `y` is 0/1 with 1 the targeted
outcome (visit, retained). `propensity` is the logged probability of the action each row
received; without it a multinomial logistic model estimates it (clipped to [0.01, 1]).
`sample_weight` says how many rows each row stands for (e.g. the rows no later campaign reached,
features/treatments.py `censoring_weights`); every fit counts it, times 1/propensity.

Estimators follow scikit-learn's rules (parameters in `__init__`, `fit` returns self, learned
attributes end in `_`). Pure: no files, printing or logging.
"""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
from sklearn.model_selection import StratifiedKFold

from cxml.models.metalearner import (
    PROPENSITY_CLIP,
    Arr,
    Logged,
    MetaLearner,
    Params,
    fit_arm_models,
    inverse_weights,
    lightgbm_params,
    positive,
    propensity_model,
    sigmoid,
)


class TLearner(MetaLearner):
    """One LightGBM classifier per arm; uplift is the difference of their probabilities.

    Simple and strong when every arm has plenty of rows. Logged propensities, when given, weight
    each arm's rows by 1/propensity so that each model describes the whole population.
    """

    def _fit(
        self, matrix: Arr, arms: Arr, target: Arr, propensity: Logged, weight: Arr | None
    ) -> None:
        logged = None if propensity is None else self._propensity(matrix, arms, propensity)
        params = lightgbm_params(self.params, self.seed)
        names = [self.control, *self.actions_]
        self.models_ = fit_arm_models(matrix, arms, target, names, params, logged, weight)

    def _outcomes(self, matrix: np.ndarray) -> dict[str, np.ndarray]:
        return {arm: positive(m, matrix) for arm, m in self.models_.items()}

    def _uplift(self, matrix: np.ndarray) -> np.ndarray:
        base = positive(self.models_[self.control], matrix)
        return np.column_stack([positive(self.models_[a], matrix) - base for a in self.actions_])


class XLearner(MetaLearner):
    """Künzel et al.'s X-learner: good when arms differ in size or effects are simpler than
    outcomes.

    Stage 1 fits one outcome classifier per arm. Stage 2 imputes each row's effect from the other
    arm's model (treated: y − μ₀(x); control: μₐ(x) − y) and regresses it on x, once per arm.
    The two effect models are blended by g(x) = P(a | x, a or control). g only weighs two
    estimates of the same effect, so it is always taken from a multinomial logistic model fitted
    here (logged propensities exist only for rows already seen, not for new customers); logged
    propensities, when given, weight the stage-1 and stage-2 fits by 1/propensity.
    """

    def _fit(
        self, matrix: Arr, arms: Arr, target: Arr, propensity: Logged, weight: Arr | None
    ) -> None:
        logged = None if propensity is None else self._propensity(matrix, arms, propensity)
        params = lightgbm_params(self.params, self.seed)
        names = [self.control, *self.actions_]
        outcome = fit_arm_models(matrix, arms, target, names, params, logged, weight)
        self.propensity_model_ = propensity_model().fit(matrix, arms)
        self.effect_models_: dict[str, tuple[lgb.LGBMRegressor, lgb.LGBMRegressor]] = {}
        for action in self.actions_:
            self.effect_models_[action] = self._fit_effects(
                matrix, arms, target, outcome, action, params, logged, weight
            )

    def _fit_effects(
        self,
        matrix: np.ndarray,
        arms: np.ndarray,
        target: np.ndarray,
        outcome: dict[str, lgb.LGBMClassifier],
        action: str,
        params: Params,
        logged: np.ndarray | None,
        weight: np.ndarray | None,
    ) -> tuple[lgb.LGBMRegressor, lgb.LGBMRegressor]:
        """(effect model from control rows, effect model from treated rows) for one action."""
        treated, control = arms == action, arms == self.control
        imputed_treated = target[treated] - positive(outcome[self.control], matrix[treated])
        imputed_control = positive(outcome[action], matrix[control]) - target[control]
        from_control = lgb.LGBMRegressor(**params).fit(
            matrix[control], imputed_control, sample_weight=inverse_weights(logged, control, weight)
        )
        from_treated = lgb.LGBMRegressor(**params).fit(
            matrix[treated], imputed_treated, sample_weight=inverse_weights(logged, treated, weight)
        )
        return from_control, from_treated

    def _uplift(self, matrix: np.ndarray) -> np.ndarray:
        proba = self.propensity_model_.predict_proba(matrix)
        classes = list(self.propensity_model_.classes_)
        base = proba[:, classes.index(self.control)]
        columns = []
        for action in self.actions_:
            share = proba[:, classes.index(action)]
            g = share / np.maximum(share + base, 1e-12)
            from_control, from_treated = self.effect_models_[action]
            columns.append(
                g * from_control.predict(matrix) + (1 - g) * from_treated.predict(matrix)
            )
        return np.column_stack(columns)


class DRLearner(MetaLearner):
    """Kennedy's DR-learner: unbiased if either the outcome models or the propensities are right.

    Outcome models are cross-fitted (each row scored by models that never saw it). For each
    action the pseudo-outcome
        ψ = μₐ(x) − μ₀(x) + 1[T=a](y − μₐ(x))/e(x) − 1[T=control](y − μ₀(x))/e(x),
    with e(x) the propensity of the action the row received, has mean equal to the uplift, and
    a LightGBM regressor of ψ on x smooths it. Only the received action's propensity appears,
    so a logged propensity is enough; without one it is cross-fitted from a multinomial model.
    """

    def __init__(
        self,
        control: str,
        params: Params | None = None,
        n_folds: int = 3,
        seed: int = 0,
        final_params: Params | None = None,
    ) -> None:
        super().__init__(control, params, seed)
        self.n_folds = n_folds
        self.final_params = final_params

    def _fit(
        self, matrix: Arr, arms: Arr, target: Arr, propensity: Logged, weight: Arr | None
    ) -> None:
        received = self._propensity(matrix, arms, propensity, self.n_folds)
        received = np.clip(received, PROPENSITY_CLIP, 1.0)
        outcomes = self._cross_fitted_outcomes(matrix, arms, target, weight)
        final = lightgbm_params(self.final_params or self.params, self.seed)
        self.models_: dict[str, lgb.LGBMRegressor] = {}
        for action in self.actions_:
            pseudo = outcomes[action] - outcomes[self.control]
            pseudo += np.where(arms == action, (target - outcomes[action]) / received, 0.0)
            pseudo -= np.where(
                arms == self.control, (target - outcomes[self.control]) / received, 0
            )
            self.models_[action] = lgb.LGBMRegressor(**final).fit(
                matrix, pseudo, sample_weight=weight
            )

    def _cross_fitted_outcomes(
        self, matrix: np.ndarray, arms: np.ndarray, target: np.ndarray, weight: np.ndarray | None
    ) -> dict[str, np.ndarray]:
        """Out-of-fold P(y=1 | x, arm) for every row and arm."""
        names = [self.control, *self.actions_]
        params = lightgbm_params(self.params, self.seed)
        result = {name: np.empty(len(arms)) for name in names}
        folds = StratifiedKFold(n_splits=self.n_folds, shuffle=True, random_state=self.seed)
        strata = np.char.add(arms, target.astype(int).astype(str))
        for fit_rows, score_rows in folds.split(matrix, strata):
            fold_weight = None if weight is None else weight[fit_rows]
            models = fit_arm_models(
                matrix[fit_rows], arms[fit_rows], target[fit_rows], names, params, None, fold_weight
            )
            for name, model in models.items():
                result[name][score_rows] = positive(model, matrix[score_rows])
        return result

    def _uplift(self, matrix: np.ndarray) -> np.ndarray:
        return np.column_stack([self.models_[a].predict(matrix) for a in self.actions_])


#: The arms' corrections: tiny trees, slow, so they learn the effect and not the noise.
OFFSET_PARAMS: Params = {"n_estimators": 100, "num_leaves": 3, "min_child_samples": 300}


class OffsetLearner(MetaLearner):
    """A T-learner whose arm models start from the control model's log-odds (LightGBM's
    `init_score`) and learn only a small correction: the treatment effect.

    Why: treated arms are small next to the control, so separate arm models spend their few rows
    re-learning the baseline risk, and their difference with the control model is mostly noise.
    Boosting each arm from the control's margin leaves only the effect to learn. Logged
    propensities, when given, weight each arm's rows by 1/propensity, as the T-learner does.
    """

    def __init__(
        self,
        control: str,
        params: Params | None = None,
        seed: int = 0,
        offset_params: Params | None = None,
    ) -> None:
        super().__init__(control, params, seed)
        self.offset_params = offset_params

    def _fit(
        self, matrix: Arr, arms: Arr, target: Arr, propensity: Logged, weight: Arr | None
    ) -> None:
        logged = None if propensity is None else self._propensity(matrix, arms, propensity)
        params = lightgbm_params(self.params, self.seed)
        base = fit_arm_models(matrix, arms, target, [self.control], params, logged, weight)
        self.base_ = base[self.control]
        small = {**params, **OFFSET_PARAMS, **(self.offset_params or {})}
        self.offsets_ = {}
        for action in self.actions_:
            rows = arms == action
            start = self.base_.predict(matrix[rows], raw_score=True)
            model = lgb.LGBMClassifier(**small)
            weights = inverse_weights(logged, rows, weight)
            self.offsets_[action] = model.fit(
                matrix[rows], target[rows], init_score=start, sample_weight=weights
            )

    def _outcomes(self, matrix: np.ndarray) -> dict[str, np.ndarray]:
        from cxml.models.flat_trees import tree_raw_scores  # numba's import only when scoring

        base = tree_raw_scores(self.base_.booster_, matrix)  # the boosters: no sklearn checks
        arms = {self.control: sigmoid(base)}
        for action in self.actions_:
            shift = tree_raw_scores(self.offsets_[action].booster_, matrix)
            arms[action] = sigmoid(base + shift)
        return arms

    def _uplift(self, matrix: np.ndarray) -> np.ndarray:
        arms = self._outcomes(matrix)
        return np.column_stack([arms[a] - arms[self.control] for a in self.actions_])

    def uplift_contributions(self, matrix: np.ndarray, action: str) -> np.ndarray:
        """Per row and feature, its share of the action's effect: the TreeSHAP contributions
        to the shift the action adds to the log-odds of the good outcome (rows x features)."""
        from cxml.models.treeshap import tree_contributions  # numba's import only when explaining

        return tree_contributions(self.offsets_[action].booster_, matrix)[:, :-1]
