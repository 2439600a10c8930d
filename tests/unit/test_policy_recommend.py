"""recommend(): only the columns the rules read are copied for eligibility, with the same
answer as from every attribute; a rule on a missing column still names what there is."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cxml.actions.policy import eligible
from cxml.actions.recommend import attributes, catalog_of, contact_of, recommend, rule_columns
from cxml.config import ActionsConfig

AS_OF = pd.Timestamp("2024-04-01", tz="UTC")
FEATURES = pd.DataFrame(
    {
        "profile_segment": ["gold", "silver", None, "gold"],
        "profile_monthly_charge": [50.0, 20.0, 80.0, np.nan],
        "n_support_ticket_30d": [3.0, 0.0, 1.0, 2.0],
    },
    index=pd.Index(["a", "b", "c", "d"], name="customer_id"),
)
CONFIG = ActionsConfig.model_validate(
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


def test_only_the_rules_columns_give_the_same_eligibility() -> None:
    catalog = catalog_of(CONFIG)
    value = FEATURES["profile_monthly_charge"].fillna(0.0) * 12
    assert rule_columns(catalog) == {"segment", "n_support_ticket_30d", "customer_value"}
    few = attributes(FEATURES, value, rule_columns(catalog))
    assert list(few.columns) == ["n_support_ticket_30d", "segment", "customer_value"]  # by name
    for log in (None, LOG):
        expected = eligible(attributes(FEATURES, value), catalog, log, contact_of(CONFIG), AS_OF)
        got = eligible(few, catalog, log, contact_of(CONFIG), AS_OF)
        pd.testing.assert_frame_equal(got, expected)


def test_recommend_picks_eligible_actions_for_each_customer() -> None:
    uplift = pd.DataFrame(0.1, index=FEATURES.index, columns=["call", "mail", "gift"])
    got = recommend(uplift, FEATURES, LOG, CONFIG, AS_OF, per_customer=True)
    assert list(got.index) == list(FEATURES.index)
    assert got.loc["b", "action"] != "call"  # silver
    assert got.loc["a", "action"] != "mail"  # contacted by e-mail two days ago
    assert got.loc["c", "action"] != "gift"  # in the store within the contact period
    assert got.loc["d", "action"] == "none"  # value unknown: nothing is worth its cost


def test_a_rule_on_a_missing_column_lists_the_columns_there_are() -> None:
    catalog = catalog_of(CONFIG)
    few = attributes(FEATURES, FEATURES["n_support_ticket_30d"], {"tier"})
    assert "n_support_ticket_30d" in few.columns  # not cut down: "tier" does not exist
    with pytest.raises(ValueError, match="no such column"):
        eligible(few.drop(columns="segment"), catalog, None, None, AS_OF)


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


def test_uplift_for_a_customer_without_features_is_refused() -> None:
    uplift = pd.DataFrame(0.1, index=["a", "zz"], columns=["call", "mail", "gift"])
    with pytest.raises(ValueError, match="customer_value is missing for 1 customers"):
        recommend(uplift, FEATURES, LOG, CONFIG, AS_OF)
