"""The full answer for a table of customers at a cutoff: what an exported model predicts.

A batch system hands over one table: `customer_id`, `cutoff`, the features built at that
cutoff and the contact history columns (`actions/history.py`). The rows of each cutoff are
scored as one list by the same `Scorer.score` that `cxml score` calls, so the answer has the
same columns and, for the same customers, features and history, the same values: rank, risk
band, who is explained and the allocation under the budget are over the rows of one cutoff.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cxml.actions.history import history_columns, history_log
from cxml.data.schema import utc_timestamp
from cxml.features.table import Table
from cxml.models.bundle import ScoringBundle
from cxml.scoring.scorer import Scorer

ID, CUTOFF = "customer_id", "cutoff"
EXPLAIN_TOP = 0.1  # as `cxml score`: explain the riskiest tenth


def feature_columns(bundle: ScoringBundle) -> dict[str, str]:
    """The feature columns the answer reads (name -> 'double' or 'string'): the models' inputs,
    the feature customer value is read from and the columns the catalog's rules read."""
    levels = bundle.encoder.levels_
    found = {n: "string" if n in levels else "double" for n in bundle.feature_names}
    actions = bundle.actions
    if actions is None:
        return found
    found.setdefault(actions.value.feature, "double")
    for rule in (r for a in actions.catalog for r in a.rules):
        name = rule.column if rule.column in found else f"profile_{rule.column}"
        if rule.column != "customer_value" and name not in found:
            found[name] = "double" if rule.isin is None else "string"
    return found


def history_names(bundle: ScoringBundle) -> list[str]:
    return [] if bundle.actions is None else [c.name for c in history_columns(bundle.actions)]


@dataclass
class Answer:
    """A scorer that reads its whole input from one table (see the module's docstring)."""

    scorer: Scorer

    def predict(
        self, rows: pd.DataFrame, explain_top: float = EXPLAIN_TOP, per_customer: bool = False
    ) -> pd.DataFrame:
        """One row per input row, in its order: the columns `cxml score` writes. `explain_top`:
        the share explained (1: all); `per_customer`: each customer's best eligible action
        instead of the allocation under the budget and capacities."""
        self._check(rows)
        rows = rows.reset_index(drop=True)
        at = pd.DatetimeIndex(pd.to_datetime(rows[CUTOFF], utc=True))
        parts = []
        for cutoff in at.unique():
            group = rows[np.asarray(at == cutoff)]
            parts.append(self._score(group, cutoff, explain_top, per_customer))
        answer = pd.concat(parts).sort_index()
        answer["scored_at"] = pd.Timestamp.now(tz="UTC")
        return answer.reset_index(drop=True)

    def _score(
        self, rows: pd.DataFrame, at: pd.Timestamp, explain_top: float, per_customer: bool
    ) -> pd.DataFrame:
        ids = pd.Index(rows[ID].to_numpy(), name=ID)
        history = set(history_names(self.scorer.bundle))
        names = [c for c in rows.columns if c not in (ID, CUTOFF, *history)]
        features = Table(ids, {n: rows[n].to_numpy() for n in names})
        log = None
        actions = self.scorer.bundle.actions
        if actions is not None:
            log = history_log(rows.set_index(ids), ids, actions, at)
        # a list draws the control group and exploration the training run's config named
        experiment = None if per_customer else self.scorer.bundle.experiment
        scored = self.scorer.score(
            features, at, explain_top, log, per_customer, experiment=experiment
        )
        return scored.frame().reset_index().set_axis(rows.index)

    def _check(self, rows: pd.DataFrame) -> None:
        bundle = self.scorer.bundle
        needed = [ID, CUTOFF, *feature_columns(bundle), *history_names(bundle)]
        missing = [c for c in needed if c not in rows]
        if missing:
            raise ValueError(
                f"the input lacks column(s) {missing[:5]}: give customer_id, cutoff, the "
                "features built at the cutoff and the contact history (see the model card)"
            )
        if rows.empty:
            raise ValueError("the input has no rows: give one row per customer to score")
        twice = rows[[ID, CUTOFF]].duplicated()
        if twice.any():
            first = rows[twice].iloc[0]
            raise ValueError(
                f"customer_id {first[ID]!r} appears more than once at cutoff {first[CUTOFF]}: "
                "give one row per customer and cutoff"
            )


def example_rows(bundle: ScoringBundle, at: str | pd.Timestamp, rows: int = 2) -> pd.DataFrame:
    """Made-up input rows (an exported model keeps an example; never a real customer): typical
    training values from the bundle's reference profile, shifted per row, under invented ids;
    the first has offers and contacts logged the day before, the others none."""
    at = utc_timestamp(at).tz_localize(None)  # naive UTC: MLflow signatures refuse time zones
    profile = bundle.info.get("reference_profile", {})
    numeric = profile.get("numeric", {}) if isinstance(profile, dict) else {}
    text = profile.get("text", {}) if isinstance(profile, dict) else {}
    levels = bundle.encoder.levels_
    frame: dict[str, object] = {ID: [f"synthetic-{i + 1}" for i in range(rows)], CUTOFF: at}
    for name, kind in feature_columns(bundle).items():
        if kind == "string":
            shares = text.get(name, {}).get("levels", {})
            known = list(shares) or list(levels.get(name, [])) or ["unknown"]
            frame[name] = [str(known[0])] * rows
        else:
            edges = numeric.get(name, {}).get("edges", [])
            middle = float(edges[len(edges) // 2]) if edges else 0.0
            frame[name] = [middle * (1 + i / 2) for i in range(rows)]
    example = pd.DataFrame(frame)
    if bundle.actions is not None:
        for column in history_columns(bundle.actions):
            if column.kind == "last":
                times = [at - pd.Timedelta(days=1)] + [pd.NaT] * (rows - 1)
                example[column.name] = pd.DatetimeIndex(times)
            else:
                example[column.name] = [1.0] + [0.0] * (rows - 1)  # empty: none
    return example
