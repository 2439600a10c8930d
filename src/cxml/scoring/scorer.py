"""Scoring: a scoring bundle applied to customers at a cutoff, for lists and the endpoint.

One method, `Scorer.score`, turns built features into the scored columns: probabilities, risk
band and rank, reasons, and the recommended action. Batch scoring (`jobs/score.py`), Spark and
the endpoint all call it, so they can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from cxml.actions.calibration import UpliftCalibration
from cxml.actions.experiment import Draws, Limits, decision_ids, randomise
from cxml.actions.fallback import Fallback
from cxml.actions.history import contact_infos, with_contacts
from cxml.actions.policy import Allocation
from cxml.actions.recommend import (
    Options,
    choose,
    customer_values,
    describe,
    effect_level,
    fall_back,
    monthly_margin,
    options,
)
from cxml.config import NO_ACTION, ExperimentConfig
from cxml.data.schema import utc_timestamp
from cxml.features.catalog import FeatureInfo
from cxml.features.table import Table
from cxml.models.bundle import ScoringBundle
from cxml.models.explain import contributions, feature_infos, reason_columns, touchpoint_impact
from cxml.models.survival import monthly_value, tenure_columns
from cxml.scoring.bands import explain_mask, ranks, risk_bands


@dataclass
class Scored(Table):
    """The scored columns, one row per customer; with the touchpoint impact of the explained
    rows when asked for (the report shows it)."""

    touchpoints: pd.DataFrame | None = None


#: The list's survival columns: the chance of still being a customer this many days on.
SURVIVAL_DAYS = (30, 90, 180, 365)


#: Customers whose model inputs a batch scoring holds at once (`Scorer.customer_part`): the
#: encoded matrix and the models' working arrays are made per block, so a big base holds one
#: block's, not all of them at once.
BLOCK_ROWS = 100_000


@dataclass
class CustomerPart:
    """What scoring learns about customers from their own rows alone, so a base can be split
    into pieces (blocks, Spark buckets) and the pieces scored apart."""

    matrix: np.ndarray | None  # the features encoded for the models (None: not kept)
    probabilities: dict[str, np.ndarray]  # <target>_probability
    raw: np.ndarray  # the churn model's raw score: breaks ties between equal probabilities
    options: Options | None  # per action: uplift, net value, eligibility (None: no actions)
    #: survival_30d … survival_365d, expected_tenure_days, lifetime_value (none without a
    #: survival model)
    tenure: dict[str, np.ndarray] = field(default_factory=dict)
    #: what the uplift model read: the features and each customer's contacts (None: no actions)
    uplift_features: Table | None = None

    @classmethod
    def concat(cls, parts: list[CustomerPart], uplift_features: Table | None) -> CustomerPart:
        """Blocks of customers' parts, one after the other; their matrices are not kept."""
        first = parts[0]

        def joined(columns: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
            return {name: np.concatenate([c[name] for c in columns]) for name in columns[0]}

        return cls(
            None,
            joined([p.probabilities for p in parts]),
            np.concatenate([p.raw for p in parts]),
            None
            if first.options is None
            else Options.concat([p.options for p in parts if p.options is not None]),
            joined([p.tenure for p in parts]),
            uplift_features,
        )


@dataclass
class Scorer:
    """A loaded bundle and where it came from; every output names the model version."""

    bundle: ScoringBundle
    model_name: str
    model_version: str

    @cached_property
    def infos(self) -> dict[str, FeatureInfo]:
        """The bundle's catalog read once, and the uplift model's contact columns, for the
        reasons' texts."""
        actions = self.bundle.actions
        contacts = [] if actions is None else contact_infos(actions)
        return feature_infos(self.bundle.catalog) | {info.name: info for info in contacts}

    def prepare(self) -> None:
        """Make now what scoring and explaining need once per process (numba's code, each
        model's trees read and the churn model's TreeSHAP tables: models/flat_trees.py and
        treeshap.py), so that a server's first requests do not wait for it."""
        from cxml.models.treeshap import compile_kernels

        compile_kernels()
        row = np.zeros((1, len(self.bundle.feature_names)))
        self.bundle.probabilities(row)
        if self.bundle.survival is not None:
            self.bundle.survival.survival(row)
        contributions(self.bundle, "churn", row)

    @property
    def base_rate(self) -> float:
        summary = self.bundle.info.get("summary", {})
        rate = summary.get("churn_rate") if isinstance(summary, dict) else None
        return float(rate) if rate is not None and np.isfinite(rate) else 0.1

    def score(
        self,
        features: Table,
        cutoff: str | pd.Timestamp,
        explain_top: float | None = None,
        actions_log: pd.DataFrame | None = None,
        per_customer: bool = True,
        touchpoints: bool = False,
        experiment: ExperimentConfig | None = None,
    ) -> Scored:
        """The scored columns of customers whose features (`bundle.features`) were built at
        `cutoff`: probabilities, band, rank, reasons for the riskiest `explain_top` share (None:
        all) and action columns (the actions log, when given, enforces cooldowns and contact
        caps). `per_customer`: each gets their best eligible action, as an application asking
        about one customer expects; otherwise the allocation is under the run's budget and
        capacities, as for a list, and `experiment` (if given) then holds out a control group
        and explores (actions/experiment.py)."""
        at = utc_timestamp(cutoff)
        part = self.customer_part(features, at, actions_log)
        rank = ranks(part.probabilities["churn_probability"], part.raw, features.index)
        explained = explain_mask(rank, explain_top)
        chosen = None
        if part.options is not None:
            chosen = self.allocate(part.options, per_customer)
            if experiment is not None and not per_customer:
                chosen = self.randomised(chosen, part, at, experiment)
        return self.assemble(features, part, at, rank, explained, chosen, touchpoints)

    def customer_part(
        self,
        features: Table,
        at: pd.Timestamp,
        actions_log: pd.DataFrame | None,
        block: int = BLOCK_ROWS,
    ) -> CustomerPart:
        """Everything that needs only the customer's own rows; the rank, who is explained and
        the allocation need the whole base (see `score`; on Spark, jobs/spark.py). A base of
        more than `block` customers is done a block at a time and its matrix is not kept (the
        reasons encode the rows they explain)."""
        actions, seen = self.bundle.actions, None
        if self.bundle.uplift is not None and actions is not None:
            seen = with_contacts(features, actions_log, actions, at)
        if len(features) <= block:
            part = self._own_rows(features, seen, at, actions_log)
        else:
            blocks = [slice(start, start + block) for start in range(0, len(features), block)]
            parts = []
            for rows in blocks:
                found = self._own_rows(
                    features.take(rows), None if seen is None else seen.take(rows), at, actions_log
                )
                found.matrix = None  # one block's matrix held at a time, not all of them
                parts.append(found)
            part = CustomerPart.concat(parts, seen)
        fallback = Fallback.from_info(self.bundle.info.get("policy_fallback"))
        if part.options is not None and fallback is not None:
            part.options = fall_back(
                part.options, fallback, part.probabilities["churn_probability"]
            )
        return part

    def _own_rows(
        self,
        features: Table,
        seen: Table | None,
        at: pd.Timestamp,
        actions_log: pd.DataFrame | None,
    ) -> CustomerPart:
        """`customer_part` of these rows (`seen`: what the uplift model reads of them)."""
        matrix = self.bundle.encode(features)  # encoded once for every model
        raw = self.bundle.models["churn"].predict_matrix_raw(matrix)
        probabilities = self.bundle.probabilities(matrix, {"churn": raw})
        survival = self.bundle.survival
        curve = None if survival is None else survival.survival(matrix)
        found = None
        actions = self.bundle.actions
        if seen is not None and actions is not None:
            learner: Any = self.bundle.uplift
            level = effect_level(actions, probabilities["churn_probability"])
            estimates = self.bundle.predict_uplift(seen, matrix, level)
            names = list(learner.actions_)
            calibration = UpliftCalibration.from_info(self.bundle.info.get("uplift_calibration"))
            se = None
            if calibration is not None:  # as measured on the held-out campaign at training
                se = calibration.standard_errors(estimates, names)
                estimates = calibration.apply(estimates, names)
            grid = None if survival is None else survival.grid
            money = customer_values(features, actions, curve, grid)
            found = options(estimates, names, features, actions_log, actions, at, se, money)
        tenure = self.tenure(features, curve)
        return CustomerPart(matrix, probabilities, raw, found, tenure, seen)

    def tenure(self, features: Table, curve: np.ndarray | None) -> dict[str, np.ndarray]:
        """survival_<days>d and expected_tenure_days read off the time-to-churn `curve`, and with
        actions the margin of the months the customer is expected to stay from the cutoff;
        none without the model."""
        model = self.bundle.survival
        if model is None or curve is None:
            return {}
        out = tenure_columns(curve, model.grid, SURVIVAL_DAYS)
        value = None if self.bundle.actions is None else self.bundle.actions.value
        if value is not None and value.feature in features:
            out["lifetime_value"] = monthly_value(
                curve,
                model.grid,
                monthly_margin(features, value),
                value.multiplier,
                value.yearly_discount,
            )
        return out

    def allocate(self, found: Options, per_customer: bool) -> Allocation:
        """The allocation under the bundle's budget and capacities (`per_customer`: each
        customer's best eligible action instead)."""
        assert self.bundle.actions is not None
        return choose(found, self.bundle.actions, per_customer)

    def randomised(
        self, chosen: Allocation, part: CustomerPart, at: pd.Timestamp, how: ExperimentConfig
    ) -> Allocation:
        """The allocation with a control group held out and some customers explored; each row
        gets its decision (policy, control, explore), its propensity and a decision id."""
        found, actions = part.options, self.bundle.actions
        assert found is not None and actions is not None
        bands = risk_bands(part.probabilities["churn_probability"], self.base_rate)
        rng = np.random.default_rng([how.seed, int(at.strftime("%Y%m%d"))])
        costs = np.array([a.cost for a in actions.catalog], dtype=float)
        capacity = np.array([-1 if a.capacity is None else a.capacity for a in actions.catalog])
        limits = Limits(costs, actions.budget, capacity)
        # drawn over the customers in id order, so the groups do not depend on row order
        order = np.argsort(found.index.astype(str).to_numpy(), kind="stable")
        back = np.argsort(order)
        drawn = randomise(
            np.asarray(chosen["action"], dtype=object)[order],
            found.allowed[order],
            found.names,
            np.asarray(bands, dtype=object)[order],
            how.holdout,
            how.explore,
            rng,
            limits,
        )
        draws = Draws(
            drawn.action[back],
            drawn.decision[back],
            drawn.probabilities[back],
            drawn.propensity[back],
        )
        where = {name: j for j, name in enumerate(found.names)}
        column = np.array([where.get(a, -1) for a in draws.action], dtype=np.int64)
        rows, has = np.arange(len(column)), column >= 0
        run = f"{self.model_name}|{self.model_version}"
        columns = dict(chosen.columns) | {
            "action": draws.action,
            "expected_gain": np.where(has, found.value[rows, np.maximum(column, 0)], 0.0),
            "cost": np.where(has, costs[np.maximum(column, 0)], 0.0),
            "decision": draws.decision,
            "policy_action": np.asarray(chosen["action"], dtype=object),
            "propensity": draws.propensity,
            "decision_id": decision_ids(found.index, at, run),
        }
        return Allocation(found.index, columns, chosen.status)

    def assemble(
        self,
        features: Table,
        part: CustomerPart,
        at: pd.Timestamp,
        rank: np.ndarray,
        explained: np.ndarray,
        chosen: Table | None,
        touchpoints: bool = False,
    ) -> Scored:
        """The scored columns of these rows, given their rank, who is explained and the chosen
        actions (the allocation, aligned with the rows), and the touchpoint table of the
        explained rows when `touchpoints`."""
        churn = part.probabilities["churn_probability"]
        columns: dict[str, Any] = {
            "cutoff": at,
            "churn_probability": churn,
            "churn_risk_band": risk_bands(churn, self.base_rate),
            "churn_rank": rank,
        }
        columns |= {k: v for k, v in part.probabilities.items() if k not in columns}
        columns |= part.tenure
        reasons, table = self.reasons(features, explained, part.matrix, touchpoints)
        columns |= reasons
        if part.options is not None and chosen is not None:
            seen = features if part.uplift_features is None else part.uplift_features
            drivers = self.action_drivers(seen, part.matrix, chosen)
            columns |= describe(part.options, chosen, reasons, drivers)
        columns |= {"model_name": self.model_name, "model_version": self.model_version}
        return Scored(features.index, columns, table)

    def action_drivers(
        self, features: Table, matrix: np.ndarray | None, chosen: Table
    ) -> np.ndarray | None:
        """Per row with an action, what most raises that customer's estimated effect of it (the
        uplift model's own contributions, in words); None when the learner cannot say.
        `features`: what the uplift model read (`CustomerPart.uplift_features`)."""
        picked = np.asarray(chosen["action"], dtype=object)
        out = np.full(len(picked), "", dtype=object)
        for action in sorted(set(picked) - {NO_ACTION}):
            rows = np.flatnonzero(picked == action)
            taken = features if len(rows) == len(picked) else features.take(rows)
            encoded = self.bundle.encode(taken) if matrix is None else matrix[rows]
            found = self.bundle.uplift_contributions(taken, encoded, action)
            if found is None:
                return None
            contrib, names = found
            if not set(names) <= set(self.infos):
                return None
            texts = reason_columns(contrib, names, taken, self.infos, k=1)
            out[rows] = texts["reason_1"]
        return out

    def reasons(
        self,
        features: Table,
        explained: np.ndarray,
        matrix: np.ndarray | None,
        touchpoints: bool = False,
    ) -> tuple[dict[str, np.ndarray], pd.DataFrame | None]:
        """reason_1..3 (what raises churn risk, in words), their families and `explained`, as
        arrays over all rows; the rows not `explained` get empty texts (explaining costs many
        predictions). With `touchpoints`, also the touchpoint table of the explained rows.
        `matrix`: the features encoded (None: these rows are encoded here)."""
        mask = np.asarray(explained, dtype=bool)
        picked = np.flatnonzero(mask)
        rows = features if mask.all() else features.take(picked)
        names = self.bundle.feature_names
        if matrix is None:
            encoded = self.bundle.encode(rows)
        else:
            encoded = matrix if mask.all() else matrix[picked]
        contrib = contributions(self.bundle, "churn", encoded)[:, :-1]
        codes = reason_columns(contrib, names, rows, self.infos, k=3)
        columns: dict[str, np.ndarray] = {}
        for name, texts in codes.items():  # the unexplained rows get empty strings
            columns[name] = np.full(len(features), "", dtype=object)
            columns[name][mask] = texts
        columns["explained"] = mask
        table = None
        if touchpoints:
            frame = pd.DataFrame(contrib, index=rows.index, columns=names)
            table = touchpoint_impact(frame, self.bundle.catalog)
        return columns, table
