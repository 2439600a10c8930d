"""What the report shows besides the scored list, and the small value types its sections hand
to the templates. Its own module so that the page and every section can import it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

import pandas as pd


@dataclass(frozen=True)
class ReportContext:
    """Everything besides the scored list. Each piece is optional: a section without its piece
    says what is missing instead of failing."""

    model_name: str | None = None
    model_version: str | None = None
    cutoff: str | pd.Timestamp | None = None
    horizon_days: int | None = None
    customer_value: pd.Series | None = None  # per customer_id, e.g. margin over the horizon
    #: how customer_value was reckoned (config CustomerValue.rule): "fixed" or "lifetime"
    value_rule: str = "fixed"
    budget: float | None = None
    policy_values: pd.DataFrame | None = None  # policy, expected_value|estimate, [low, high]
    #: set when the learned policy lost to a simple one out of time: which is used, and why
    fallback: str | None = None
    calibration: str | None = None  # how the expected gains were calibrated, in words
    #: predicted against true uplift by decile of the prediction (simulated data: training)
    uplift_deciles: pd.DataFrame | None = None
    touchpoints: pd.DataFrame | None = None  # models.explain.touchpoint_impact
    drift: pd.DataFrame | None = None  # models.drift.psi
    nps: pd.DataFrame | None = None  # kpis.nps_trend: month, nps, responses
    retention_rate: float | None = None  # share, 0..1
    churn_definition: str | None = None  # in words, e.g. "a cancellation within 91 days"
    base_rate: float | None = None  # the churn rate of the rows the model was trained on
    #: what was shipped and why, how it was refitted (name -> words), for the model card
    model_facts: dict[str, str] = field(default_factory=dict)
    earlier: pd.DataFrame | None = None  # cutoff, customers, realised_auc, expected_churners, …
    earlier_older: int = 0  # closed scorings older than those judged (monitor.judged_scorings)
    #: `cxml outcomes` of earlier runs: cutoff + actions/outcomes.py IMPACT_COLUMNS per action
    decisions: pd.DataFrame | None = None
    training_metrics: dict[str, float] | None = None
    #: the trained model's profile attributes: "with_history" (read as of each cutoff) and
    #: "static" (no history: assumed constant over time); features/attributes.py
    attributes: dict[str, list[str]] | None = None
    currency: str = ""  # prefix for money, e.g. "€"


def first(scored: pd.DataFrame, column: str, given: object) -> Any:
    """The context's value, else the scored list's own column (first row), else None."""
    if given is not None:
        return given
    return scored[column].iloc[0] if column in scored and len(scored) else None


class Badge(NamedTuple):
    """A table cell drawn as a coloured label (risk band, drift status)."""

    text: str


class Image(NamedTuple):
    """A figure inlined as a PNG data: URI, so the page never links to anything."""

    uri: str
    alt: str


View = dict[str, Any]  # what one section hands its template: names to plain values
