"""Recommendations: options (values and eligibility from the customers' own rows), the choice
per customer or under the budget, and the reason in words."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import TypeAdapter

from cxml.actions.policy import eligible
from cxml.actions.recommend import attributes, choose, customer_value, describe, options
from cxml.config import ActionsConfig
from cxml.features.table import Table

AS_OF = pd.Timestamp("2024-04-01", tz="UTC")
FEATURES = pd.DataFrame(
    {
        "profile_segment": ["gold", "silver", None, "gold"],
        "profile_monthly_charge": [50.0, 20.0, 80.0, np.nan],
        "n_support_ticket_30d": [3.0, 0.0, 1.0, 2.0],
    },
    index=pd.Index(["a", "b", "c", "d"], name="customer_id"),
)
CONFIG = TypeAdapter(ActionsConfig).validate_python(
    {
        "value": {"feature": "profile_monthly_charge", "multiplier": 12},
        "contact": {"max_contacts": 1, "period_days": 28},
        "catalog": [
            {"name": "call", "channel": "phone", "cost": 5, "rules": [{"column": "segment",
             "isin": ["gold"]}, {"column": "n_support_ticket_30d", "min": 1}]},
            {"name": "mail", "channel": "email", "cost": 1, "cooldown_days": 7,
             "rules": [{"column": "customer_value", "min": 100}]},
            {"name": "gift", "channel": "store", "cost": 20},
        ],
    }
)  # fmt: skip
LOG = pd.DataFrame(
    {
        "customer_id": ["a", "c"],
        "action_time": pd.to_datetime(["2024-03-30", "2024-03-29"], utc=True),
        "action": ["mail", "gift"],
        "channel": ["email", "store"],
    }
)


def recommend(
    uplift: pd.DataFrame, features: pd.DataFrame, log, config, as_of, per_customer=False
) -> pd.DataFrame:
    """options -> choose -> describe, as the scorer composes them, on frames."""
    table = Table.of(features.loc[uplift.index])
    found = options(uplift.to_numpy(), list(uplift.columns), table, log, config, as_of)
    chosen = choose(found, config, per_customer)
    return pd.DataFrame(describe(found, chosen, None), index=uplift.index)


def test_attributes_name_profile_columns_plainly_and_add_customer_value() -> None:
    table = Table.of(FEATURES)
    value = customer_value(table, CONFIG.value)
    np.testing.assert_array_equal(value, [600.0, 240.0, 960.0, 0.0])  # unknown: 0
    seen = attributes(table, value)
    assert {"segment", "monthly_charge", "n_support_ticket_30d", "customer_value"} <= set(seen)
    assert seen.columns["segment"] is table.columns["profile_segment"]  # read, not copied
    allowed = eligible(seen, CONFIG.catalog, None, CONFIG.contact, AS_OF)
    # call: gold with a ticket (a, d); mail: worth at least 100 (a, b, c); gift: everyone
    np.testing.assert_array_equal(allowed[:, 0], [True, False, False, True])
    np.testing.assert_array_equal(allowed[:, 1], [True, True, True, False])
    assert allowed[:, 2].all()


def test_recommend_picks_eligible_actions_for_each_customer() -> None:
    uplift = pd.DataFrame(0.1, index=FEATURES.index, columns=["call", "mail", "gift"])
    got = recommend(uplift, FEATURES, LOG, CONFIG, AS_OF, per_customer=True)
    assert list(got.index) == list(FEATURES.index)
    assert got.loc["b", "action"] != "call"  # silver
    assert got.loc["a", "action"] != "mail"  # contacted by e-mail two days ago
    assert got.loc["c", "action"] != "gift"  # in the store within the contact period
    assert got.loc["d", "action"] == "none"  # value unknown: nothing is worth its cost


def test_a_rule_on_a_missing_column_lists_the_columns_there_are() -> None:
    table = Table.of(FEATURES.drop(columns="profile_segment"))
    seen = attributes(table, customer_value(table, CONFIG.value))
    with pytest.raises(ValueError, match=r"no such column.*n_support_ticket_30d"):
        eligible(seen, CONFIG.catalog, None, None, AS_OF)


@pytest.mark.parametrize("per_customer", [True, False])
def test_uplift_in_another_row_and_column_order_recommends_the_same(per_customer: bool) -> None:
    uplift = pd.DataFrame(
        {"gift": [0.2, 0.1, 0.3, 0.1], "call": [0.3] * 4, "mail": [0.05, 0.2, 0.1, 0.4]},
        index=FEATURES.index,
    )
    expected = recommend(uplift, FEATURES, LOG, CONFIG, AS_OF, per_customer=per_customer)
    shuffled = uplift.iloc[::-1][["mail", "gift", "call"]]
    got = recommend(shuffled, FEATURES, LOG, CONFIG, AS_OF, per_customer=per_customer)
    assert list(got.index) == list(shuffled.index)
    pd.testing.assert_frame_equal(got.loc[expected.index], expected)
    assert (expected["action"] != "none").any()  # something to compare


def test_uplift_rows_that_are_not_the_customers_are_refused() -> None:
    estimates = np.full((3, 3), 0.1)
    with pytest.raises(ValueError, match="3 rows of uplift estimates for 4 customers"):
        options(estimates, ["call", "mail", "gift"], Table.of(FEATURES), LOG, CONFIG, AS_OF)
