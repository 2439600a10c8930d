"""Scoring: a scoring bundle applied to customers at a cutoff, for lists and the endpoint.

One object, `Scorer`, turns built features into scored rows: probabilities, risk band and rank,
reasons, and the recommended action. Batch scoring (`jobs/score.py`), Spark and the endpoint all
call it, so they can never disagree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from cxml.data.schema import utc_timestamp
from cxml.features.build import Table
from cxml.features.catalog import FeatureInfo, FeatureTable, rows_of
from cxml.models.bundle import ScoringBundle
from cxml.scoring.bands import explain_mask, ranks, risk_bands

if TYPE_CHECKING:
    from cxml.actions.recommend import Options


@dataclass
class CustomerPart:
    """What scoring learns about customers from their own rows alone, so a base can be split
    into pieces (Spark buckets) and the pieces scored apart."""

    matrix: np.ndarray  # the features encoded for the models
    probabilities: dict[str, np.ndarray]  # <target>_probability
    raw: np.ndarray  # the churn model's raw score: breaks ties between equal probabilities
    options: Options | None  # per action: uplift, net value, eligibility (None: no actions)


@dataclass
class Scorer:
    """A loaded bundle and where it came from; every output names the model version."""

    bundle: ScoringBundle
    model_name: str
    model_version: str

    @cached_property
    def infos(self) -> dict[str, FeatureInfo]:
        """The bundle's catalog read once, for the reasons' texts."""
        from cxml.models.explain import feature_infos

        return feature_infos(self.bundle.catalog)

    @property
    def base_rate(self) -> float:
        summary = self.bundle.info.get("summary", {})
        rate = summary.get("churn_rate") if isinstance(summary, dict) else None
        return float(rate) if rate is not None and np.isfinite(rate) else 0.1

    def score(
        self,
        events: Table,
        customers: Table,
        cutoff: str | pd.Timestamp,
        explain_top: float | None = None,
        actions_log: pd.DataFrame | None = None,
        per_customer: bool = True,
    ) -> pd.DataFrame:
        """One row per customer: probabilities, band, rank, reasons and action columns (the
        actions log, when given, enforces cooldowns and contact caps). `per_customer`: each
        gets their best eligible action, as an application asking about one customer expects;
        batch scoring instead allocates under the run's budget and capacities."""
        at = utc_timestamp(cutoff)
        features = self.bundle.features(events, customers, at)
        return self.score_features(features, at, explain_top, actions_log, per_customer)

    def score_features(
        self,
        features: pd.DataFrame,
        at: pd.Timestamp,
        explain_top: float | None = None,
        actions_log: pd.DataFrame | None = None,
        per_customer: bool = False,
        touchpoints: bool = False,
    ) -> pd.DataFrame:
        """`score` on features already built at `at` (batch scoring reuses them for drift);
        `touchpoints` adds the touchpoint impact of the explained rows as `attrs`."""
        columns, table = self._columns(
            features, at, explain_top, actions_log, per_customer, touchpoints=touchpoints
        )
        frame = pd.DataFrame(columns, index=features.index)
        if table is not None:
            frame.attrs["touchpoints"] = table
        return frame.reset_index()

    def score_rows(
        self,
        events: Table,
        customers: Table,
        cutoff: str | pd.Timestamp,
        explain_top: float | None = None,
        actions_log: pd.DataFrame | None = None,
        per_customer: bool = True,
    ) -> list[dict[str, Any]]:
        """`score` as one dict per row, keyed by its columns in order, without building the
        frame: what an endpoint answers from (for one customer the frame cost more than a
        prediction)."""
        at = utc_timestamp(cutoff)
        features, matrix = self.bundle.features_encoded(events, customers, at)
        columns, _ = self._columns(features, at, explain_top, actions_log, per_customer, matrix)
        key = features.index.name if features.index.name is not None else "index"
        columns = {key: features.index.to_numpy()} | columns  # as reset_index puts it
        return [
            {k: v[i] if isinstance(v, np.ndarray) else v for k, v in columns.items()}
            for i in range(len(features))
        ]

    def _columns(
        self,
        features: FeatureTable,
        at: pd.Timestamp,
        explain_top: float | None,
        actions_log: pd.DataFrame | None,
        per_customer: bool,
        matrix: np.ndarray | None = None,
        touchpoints: bool = False,
    ) -> tuple[dict[str, Any], pd.DataFrame | None]:
        """The scored columns as arrays (a scalar where every row has the same value), and
        the touchpoint table when asked for. Gathered as arrays and framed once by the caller:
        for one customer, pandas' per-column overhead was most of the cost. `matrix`: the
        features already encoded, if at hand."""
        part = self.customer_part(features, at, actions_log, matrix)
        rank = ranks(part.probabilities["churn_probability"], part.raw, features.index)
        explained = explain_mask(rank, explain_top)
        chosen = None
        if part.options is not None:
            chosen = self.picked(part.options, per_customer)
        return self.assemble(features, part, at, rank, explained, chosen, touchpoints)

    def customer_part(
        self,
        features: FeatureTable,
        at: pd.Timestamp,
        actions_log: pd.DataFrame | None,
        matrix: np.ndarray | None = None,
    ) -> CustomerPart:
        """Everything that needs only the customer's own rows; the rank, who is explained and
        the allocation need the whole base (see `_columns`; on Spark, jobs/spark.py). `matrix`:
        the features already encoded, if at hand."""
        from cxml.actions.recommend import options_of

        if matrix is None:  # encoded once for every model
            matrix = self.bundle.encode(features)
        raw = self.bundle.models["churn"].predict_matrix_raw(matrix)
        probabilities = self.bundle.probabilities(matrix, {"churn": raw})
        found = None
        if self.bundle.uplift is not None and self.bundle.actions is not None:
            learner: Any = self.bundle.uplift
            estimates = self.bundle.predict_uplift(features, matrix)
            found = options_of(
                estimates, list(learner.actions_), features, actions_log, self.bundle.actions, at
            )
        return CustomerPart(matrix, probabilities, raw, found)

    def picked(self, found: Options, per_customer: bool) -> dict[str, np.ndarray]:
        """`choose` on the options, as arrays over their rows (for one customer, the frames
        in and out cost more than choosing)."""
        from cxml.actions.policy import best_each_arrays
        from cxml.actions.recommend import catalog_of

        assert self.bundle.actions is not None
        if per_customer:
            catalog = catalog_of(self.bundle.actions)
            return best_each_arrays(found.value_matrix, found.allowed_matrix, catalog, found.index)
        chosen = self.choose(found.values, found.allowed, per_customer)  # indexed as found
        return {str(c): chosen[c].to_numpy() for c in chosen.columns}

    def choose(
        self, values: pd.DataFrame, allowed: pd.DataFrame, per_customer: bool
    ) -> pd.DataFrame:
        """The allocation under the bundle's budget and capacities (`per_customer`: each
        customer's best eligible action instead)."""
        from cxml.actions.recommend import choose

        assert self.bundle.actions is not None
        return choose(values, allowed, self.bundle.actions, per_customer)

    def assemble(
        self,
        features: FeatureTable,
        part: CustomerPart,
        at: pd.Timestamp,
        rank: np.ndarray,
        explained: np.ndarray,
        chosen: Mapping[str, Any] | None,
        touchpoints: bool = False,
    ) -> tuple[dict[str, Any], pd.DataFrame | None]:
        """The scored columns of these rows, given their rank, who is explained and the chosen
        actions (the allocation's columns, aligned with the rows), and the touchpoint table of
        the explained rows when `touchpoints`."""
        from cxml.actions.recommend import describe

        churn = part.probabilities["churn_probability"]
        columns: dict[str, Any] = {
            "cutoff": at,
            "churn_probability": churn,
            "churn_risk_band": risk_bands(churn, self.base_rate),
            "churn_rank": rank,
        }
        columns |= {k: v for k, v in part.probabilities.items() if k not in columns}
        reasons, table = self.reasons(features, explained, part.matrix, touchpoints)
        columns |= reasons
        if part.options is not None and chosen is not None:
            columns |= describe(part.options, chosen, reasons)
        columns |= {"model_name": self.model_name, "model_version": self.model_version}
        return columns, table

    def reasons(
        self,
        features: FeatureTable,
        explained: np.ndarray,
        matrix: np.ndarray,
        touchpoints: bool = False,
    ) -> tuple[dict[str, np.ndarray], pd.DataFrame | None]:
        """reason_1..3 (what raises churn risk, in words), their families and `explained`, as
        arrays over all rows; the rows not `explained` get empty texts (explaining costs ~100
        predictions). With `touchpoints`, also the touchpoint table of the explained rows.
        `matrix`: the features encoded."""
        from cxml.models.explain import contribution_matrix, reason_arrays, touchpoint_impact

        mask = np.asarray(explained, dtype=bool)
        picked = np.flatnonzero(mask)
        rows = features if mask.all() else rows_of(features, picked)
        names = self.bundle.feature_names
        encoded = matrix if mask.all() else matrix[picked]
        contrib = contribution_matrix(self.bundle, "churn", encoded)[:, :-1]
        codes = reason_arrays(contrib, names, rows, self.infos, k=3)
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
