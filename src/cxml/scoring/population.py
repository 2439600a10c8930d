"""Who is scored: the customers still with us at the cutoff."""

from __future__ import annotations

import pandas as pd


def scoring_population(
    events: pd.DataFrame, customers: pd.DataFrame, cutoff: pd.Timestamp
) -> pd.DataFrame:
    """The customers still with us at the cutoff (joined before it, not cancelled): the same
    population the models were trained on."""
    from cxml.features.labels import active_customers

    active = active_customers(events, customers, cutoff)
    ids = customers["customer_id"].astype(str)
    return customers[ids.isin(active).to_numpy()]
