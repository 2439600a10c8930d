"""Who is scored: the population the models were trained on, at the cutoff."""

from __future__ import annotations

import pandas as pd

from cxml.config import LabelConfig
from cxml.features.labels import population


def scoring_population(
    events: pd.DataFrame,
    customers: pd.DataFrame,
    cutoff: pd.Timestamp,
    labels: LabelConfig = LabelConfig(),
) -> pd.DataFrame:
    """The customers a model trained on `labels` speaks for at the cutoff (`population`): still
    with us and, under inactivity churn, active in the look-back. Scoring anyone else would
    extrapolate to people the model never saw a label for."""
    rows = population(events, customers, cutoff, labels)
    ids = customers["customer_id"].astype(str)
    return customers[ids.isin(rows).to_numpy()]
