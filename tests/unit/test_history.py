"""The contact history as columns (what an exported model gets instead of the actions log): the
columns summarise the log at a cutoff, and the log rebuilt from them blocks exactly the offers
the full log blocks and gives the uplift model the same contact features."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cxml.actions.history import (
    contact_features,
    contact_history,
    history_columns,
    history_log,
    with_contacts,
)
from cxml.actions.policy import eligible
from cxml.config import Action, ActionsConfig, ContactPolicy, CustomerValue
from cxml.features.table import Table

AT = pd.Timestamp("2024-04-01", tz="UTC")
DAY = pd.Timedelta(days=1)
CONFIG = ActionsConfig(
    value=CustomerValue("value"),
    catalog=(
        Action("discount", "email", 30.0, cooldown_days=56),
        Action("callback", "call_centre", 15.0),
        Action("newsletter", "email", 1.0, cooldown_days=7),
    ),
    contact=ContactPolicy(max_contacts=2, period_days=28),
    contact_history_days=0,  # eligibility's columns alone (the default)
)
SEEN = replace(CONFIG, contact_history_days=90)  # the uplift model sees 90 days of contacts
IDS = pd.Index(["a", "b", "c", "d"], name="customer_id")


def _log(rows: list[tuple[str, pd.Timestamp, str, str | None]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["customer_id", "action_time", "action", "channel"])
    frame["action_time"] = pd.to_datetime(frame["action_time"], utc=True)
    return frame


def _allowed(log: pd.DataFrame, config: ActionsConfig = CONFIG) -> np.ndarray:
    customers = Table(IDS, {"value": np.ones(len(IDS))})
    return eligible(customers, config.catalog, log, config.contact, AT)


LOG = _log(
    [
        ("a", AT - 56 * DAY, "discount", "email"),  # exactly the cooldown back: still blocks
        ("a", AT - 3 * DAY, "callback", None),  # no channel: the catalog's (call_centre)
        ("b", AT - 57 * DAY, "discount", "email"),  # older than the cooldown: blocks nothing
        ("b", AT - 2 * DAY, "letter", "email"),  # not in the catalog: still a contact
        ("b", AT - 1 * DAY, "newsletter", "email"),  # a second email contact: capped
        ("c", AT, "discount", "email"),  # at the cutoff, not before it: excluded
        ("c", AT + DAY, "callback", "call_centre"),  # after the cutoff: excluded
    ]
)


def test_columns_summarise_the_log_at_the_cutoff() -> None:
    names = [c.name for c in history_columns(CONFIG)]
    assert names == [
        "last_discount_at",
        "last_newsletter_at",
        "contacts_email_28d",
        "contacts_call_centre_28d",
    ]
    history = contact_history(LOG, IDS, CONFIG, AT)
    assert list(history.columns) == names
    assert history.loc["a", "last_discount_at"] == AT - 56 * DAY
    assert pd.isna(history.loc["b", "last_discount_at"])  # beyond its cooldown
    assert history.loc["b", "last_newsletter_at"] == AT - DAY
    assert history["contacts_email_28d"].tolist() == [0, 2, 0, 0]
    assert history["contacts_call_centre_28d"].tolist() == [1, 0, 0, 0]
    assert history.loc[["c", "d"]].drop(columns=names[:2]).eq(0).all().all()


def test_the_rebuilt_log_blocks_what_the_log_blocks() -> None:
    rebuilt = history_log(contact_history(LOG, IDS, CONFIG, AT), IDS, CONFIG, AT)
    allowed = _allowed(LOG)
    assert allowed[:2].tolist() == [
        [False, True, True],  # a: the discount cools down; one call is under the cap of two
        [False, True, False],  # b: two email contacts reach the cap (and newsletter cools)
    ]
    assert allowed[2:].all()  # c, d: nothing before the cutoff
    np.testing.assert_array_equal(_allowed(rebuilt), allowed)


def test_naive_times_are_utc_and_empty_values_are_none() -> None:
    history = contact_history(LOG, IDS, CONFIG, AT)
    naive = history.assign(last_discount_at=history["last_discount_at"].dt.tz_localize(None))
    naive["contacts_call_centre_28d"] = [1.0, None, None, None]  # a left join's gaps
    rebuilt = history_log(naive, IDS, CONFIG, AT.tz_localize(None))
    np.testing.assert_array_equal(_allowed(rebuilt), _allowed(LOG))


@pytest.mark.parametrize("bad", [-1, 1.5, "many"])
def test_a_count_that_is_not_a_count_is_refused_by_name(bad: object) -> None:
    history = contact_history(LOG, IDS, CONFIG, AT).astype({"contacts_email_28d": object})
    history.loc["c", "contacts_email_28d"] = bad
    with pytest.raises(ValueError, match=f"column contacts_email_28d: {bad} is not a count"):
        history_log(history, IDS, CONFIG, AT)


ACTIONS = st.sampled_from(["discount", "callback", "newsletter", "letter"])
CHANNELS = st.sampled_from(["email", "call_centre", "app", None])


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(list(IDS)), st.integers(-70 * 24, 3 * 24), ACTIONS, CHANNELS),
        max_size=25,
    )
)
def test_any_log_and_its_columns_block_the_same_offers(rows: list) -> None:
    hour = pd.Timedelta(hours=1)
    log = _log([(who, AT + n * hour, action, channel) for who, n, action, channel in rows])
    for config in (CONFIG, SEEN):
        rebuilt = history_log(contact_history(log, IDS, config, AT), IDS, config, AT)
        np.testing.assert_array_equal(_allowed(rebuilt, config), _allowed(log, config))
        made, remade = (contact_features(x, IDS, config, AT) for x in (log, rebuilt))
        assert made.names() == remade.names()
        for name in made.names():
            np.testing.assert_allclose(remade[name], made[name])


def test_contact_features_are_the_days_since_each_action_censored_at_the_look_back() -> None:
    log = pd.concat(
        [LOG, _log([("d", AT - 100 * DAY, "callback", None), ("d", AT - 5 * DAY, "none", None)])]
    )
    found = contact_features(log, IDS, SEEN, AT)
    assert found.names() == [
        "days_since_action_discount",
        "days_since_action_callback",
        "days_since_action_newsletter",
    ]
    assert found["days_since_action_discount"].tolist() == [56, 57, 90, 90]  # c: at the cutoff
    assert found["days_since_action_callback"].tolist() == [3, 90, 90, 90]  # d: before 90 days
    assert found["days_since_action_newsletter"].tolist() == [90, 1, 90, 90]  # "none": no contact
    assert all(info.family == "contact" for info in found.infos)
    assert contact_features(log, IDS, CONFIG, AT).names() == []  # not seen: no columns


def test_the_uplift_inputs_keep_the_kind_of_table_and_its_catalog() -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0]}, index=IDS)
    joined = with_contacts(frame, LOG, SEEN, AT)
    assert list(joined.columns) == ["x", *contact_features(LOG, IDS, SEEN, AT).names()]
    assert joined.loc["a", "days_since_action_discount"] == 56
    assert with_contacts(frame, LOG, CONFIG, AT) is frame
    table = with_contacts(Table.of(frame), LOG, SEEN, AT)
    assert isinstance(table, Table) and table.names()[0] == "x" and len(table.names()) == 4
