"""Next-best-action policy: eligibility (rules, cooldown, contact caps, only the past counts),
expected value, and allocation under budget and capacity (greedy vs exact)."""

from __future__ import annotations

import itertools
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from cxml.actions import _assign, policy
from cxml.config import Action, ContactPolicy, Rule
from cxml.features.table import Table

AS_OF = pd.Timestamp("2024-04-01", tz="UTC")
DAY = pd.Timedelta(days=1)
SECOND = pd.Timedelta(seconds=1)
NAN = float("nan")


def _log(rows: list[tuple[str, pd.Timestamp, str, str]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["customer_id", "action_time", "action", "channel"])
    frame["action_time"] = pd.to_datetime(frame["action_time"], utc=True)
    return frame


def _values(rows: dict[str, dict[str, float]]) -> pd.DataFrame:
    return pd.DataFrame.from_dict(rows, orient="index").astype(float)


def _all_eligible(values: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(True, index=values.index, columns=values.columns)


# The policy works on arrays (customers × the catalog's actions); these tests read and write
# frames, named by customer and action, through the faces below.


def eligible(
    customers: pd.DataFrame, catalog, log, contact, as_of, control: str = "none"
) -> pd.DataFrame:
    allowed = policy.eligible(Table.of(customers), catalog, log, contact, as_of, control)
    return pd.DataFrame(allowed, index=customers.index, columns=[a.name for a in catalog])


def expected_values(uplift: pd.DataFrame, worth: pd.Series, catalog) -> pd.DataFrame:
    names = [a.name for a in catalog]
    missing = [n for n in names if n not in uplift.columns]
    if missing:
        raise ValueError(f"uplift has no column for actions {missing}")
    money = worth.reindex(uplift.index).to_numpy(dtype=float)
    values = policy.net_values(uplift[names].to_numpy(dtype=float), money, catalog, uplift.index)
    return pd.DataFrame(values, index=uplift.index, columns=names)


def _arrays(values: pd.DataFrame, allowed: pd.DataFrame, catalog) -> tuple[Any, Any]:
    """The frames as the policy's arrays; a customer or action absent from `allowed` is not
    allowed."""
    names = [a.name for a in catalog]
    missing = [n for n in names if n not in values.columns]
    if missing:
        raise ValueError(f"values has no column for actions {missing}")
    ok = allowed.reindex(index=values.index, columns=names).astype("boolean").fillna(False)
    return values[names].to_numpy(dtype=float), ok.to_numpy(dtype=bool)


def _frame(chosen: policy.Allocation) -> pd.DataFrame:
    frame = chosen.frame()
    frame.attrs["status"] = chosen.status
    return frame


def allocate(values, allowed, catalog, budget, method="exact", **kwargs) -> pd.DataFrame:
    value, ok = _arrays(values, allowed, catalog)
    return _frame(policy.allocate(value, ok, catalog, budget, values.index, method, **kwargs))


def best_each(values, allowed, catalog) -> pd.DataFrame:
    return _frame(policy.best_each(*_arrays(values, allowed, catalog), catalog, values.index))


# --- eligibility ------------------------------------------------------------------------------

CUSTOMERS = pd.DataFrame(
    {"segment": ["gold", "silver", None, "gold"], "score": [100.0, 50.0, 80.0, NAN]},
    index=pd.Index(["a", "b", "c", "d"], name="customer_id"),
)
CATALOG = [
    Action(
        "call",
        "phone",
        10.0,
        rules=(Rule("segment", isin=("gold",)), Rule("score", min=60)),
        cooldown_days=30,
    ),
    Action("email", "email", 1.0),
    Action("sms", "sms", 0.5, rules=(Rule("score", max=60),)),
]
LOG = _log(
    [
        ("a", AS_OF - 10 * DAY, "call", "phone"),  # a: call within its 30-day cooldown
        ("b", AS_OF - SECOND, "email", "email"),  # b: one e-mail contact in the 7-day period
        ("b", AS_OF + DAY, "email", "email"),  # excluded: the future never counts
        ("c", AS_OF - 5 * DAY, "newsletter", "email"),  # c: not in the catalog, still a contact
        ("a", AS_OF, "email", "email"),  # excluded: at as_of is not before as_of
        ("d", AS_OF - 8 * DAY, "email", "email"),  # excluded: outside the 7-day contact period
        ("d", AS_OF - 31 * DAY, "call", "phone"),  # excluded: outside the 30-day cooldown
    ]
)


def test_eligibility_rules_cooldown_contact_cap_and_only_the_past() -> None:
    got = eligible(CUSTOMERS, CATALOG, LOG, ContactPolicy(max_contacts=1, period_days=7), AS_OF)
    expected = pd.DataFrame(
        {
            # a: cooldown; b: silver; c: no segment; d: score missing fails min
            "call": [False, False, False, False],
            # b and c: at the contact cap on e-mail
            "email": [True, False, False, True],
            # only b has score <= 60 (d's missing score fails)
            "sms": [False, True, False, False],
        },
        index=CUSTOMERS.index,
    )
    pd.testing.assert_frame_equal(got, expected)
    log = LOG.astype({"customer_id": "category", "action": "category", "channel": "category"})
    got = eligible(CUSTOMERS, CATALOG, log, ContactPolicy(max_contacts=1, period_days=7), AS_OF)
    pd.testing.assert_frame_equal(got, expected)  # a categorical log reads the same


def test_the_control_arm_is_no_contact_but_an_action_outside_the_catalog_is() -> None:
    """Hillstrom's import logs its "no e-mail" arm on the e-mail channel: a customer held out
    was not contacted, while a newsletter the catalog does not know still counts."""
    catalog = [Action("email", "email", 1.0)]
    customers = pd.DataFrame(index=pd.Index(["held_out", "newsletter"], name="customer_id"))
    log = _log(
        [
            ("held_out", AS_OF - DAY, "no_email", "email"),
            ("newsletter", AS_OF - DAY, "newsletter", "email"),
        ]
    )
    cap = ContactPolicy(max_contacts=1, period_days=7)
    assert eligible(customers, catalog, log, cap, AS_OF, "no_email")["email"].tolist() == [
        True,
        False,
    ]
    # cxml's own decisions name no action "none": that is the default control
    own = log.assign(action=["none", "newsletter"])
    assert eligible(customers, catalog, own, cap, AS_OF)["email"].tolist() == [True, False]


def test_eligibility_without_contact_policy_and_with_naive_as_of() -> None:
    got = eligible(CUSTOMERS, CATALOG, LOG, None, pd.Timestamp("2024-04-01"))
    assert got["email"].all()  # no cap, no cooldown on e-mail
    assert not got.loc["a", "call"]  # the cooldown still holds


def test_cooldown_window_starts_exactly_d_days_back() -> None:
    catalog = [Action("call", "phone", 1.0, cooldown_days=30)]
    customers = pd.DataFrame(index=pd.Index(["x", "y"], name="customer_id"))
    log = _log(
        [
            ("x", AS_OF - 30 * DAY, "call", "phone"),  # x: exactly D days back still blocks
            ("y", AS_OF - 30 * DAY - SECOND, "call", "phone"),  # y: excluded, just outside
        ]
    )
    got = eligible(customers, catalog, log, None, AS_OF)
    assert got["call"].tolist() == [False, True]


def test_windows_read_the_same_whatever_the_log_times_resolution_or_zone() -> None:
    catalog = [Action("call", "phone", 1.0, cooldown_days=30)]
    customers = pd.DataFrame(index=pd.Index(["x", "y", "z"], name="customer_id"))
    micro = pd.Timedelta(microseconds=1)
    log = _log(
        [
            ("x", AS_OF - 30 * DAY, "call", "phone"),  # exactly D days back: blocks
            ("y", AS_OF - 30 * DAY - micro, "call", "phone"),  # a microsecond earlier: not
            ("z", AS_OF - micro, "call", "phone"),  # just before as_of: blocks
        ]
    )
    expected = [False, True, False]
    for unit in ("ns", "us"):
        times = log.assign(action_time=log["action_time"].dt.as_unit(unit))
        assert eligible(customers, catalog, times, None, AS_OF)["call"].tolist() == expected
    zoned = log.assign(action_time=log["action_time"].dt.tz_convert("Asia/Kolkata"))
    assert eligible(customers, catalog, zoned, None, AS_OF)["call"].tolist() == expected
    as_of = AS_OF.tz_convert("America/New_York").as_unit("us")
    assert eligible(customers, catalog, log, ContactPolicy(1, 1), as_of)["call"].tolist() == [
        False,
        True,
        False,
    ]


def test_empty_log_and_missing_channel_taken_from_catalog() -> None:
    empty = _log([])
    assert eligible(CUSTOMERS, CATALOG, empty, ContactPolicy(1, 7), AS_OF)["email"].all()
    log = _log([("a", AS_OF - DAY, "email", None)])  # type: ignore[list-item]
    got = eligible(CUSTOMERS, CATALOG, log, ContactPolicy(1, 7), AS_OF)
    assert not got.loc["a", "email"]
    # the column is optional in the contract: a log without it reads as all channels missing
    no_column = _log([("a", AS_OF - DAY, "email", "web")]).drop(columns="channel")
    got = eligible(CUSTOMERS, CATALOG, no_column, ContactPolicy(1, 7), AS_OF)
    assert not got.loc["a", "email"]


def test_eligibility_errors_say_what_is_wrong() -> None:
    with pytest.raises(ValueError, match="no such column"):
        eligible(CUSTOMERS, [Action("x", "web", 1.0, rules=(Rule("tier"),))], None, None, AS_OF)
    with pytest.raises(ValueError, match="lacks columns"):
        eligible(CUSTOMERS, CATALOG, LOG.drop(columns="action_time"), None, AS_OF)
    with pytest.raises(ValueError, match="unique"):
        eligible(CUSTOMERS, [CATALOG[1], CATALOG[1]], None, None, AS_OF)
    with pytest.raises(ValueError, match="reserved"):
        Action("none", "web", 1.0)
    with pytest.raises(ValueError, match="cost"):
        Action("x", "web", -1.0)
    with pytest.raises(ValueError, match="swap"):
        Rule("score", min=5, max=1)


# --- value ------------------------------------------------------------------------------------


def test_expected_value_is_uplift_times_customer_value_minus_cost() -> None:
    uplift = pd.DataFrame({"call": [0.1, 0.0], "email": [0.02, 0.5]}, index=["a", "b"])
    worth = pd.Series({"b": 10.0, "a": 200.0})  # order differs on purpose
    got = expected_values(uplift, worth, [Action("call", "phone", 5.0), Action("email", "e", 1.0)])
    expected = pd.DataFrame({"call": [15.0, -5.0], "email": [3.0, 4.0]}, index=["a", "b"])
    pd.testing.assert_frame_equal(got, expected)
    with pytest.raises(ValueError, match="customer_value is missing"):
        expected_values(uplift, worth.drop("a"), [Action("call", "phone", 5.0)])


# --- allocation -------------------------------------------------------------------------------

TWO = [Action("call", "phone", 6.0), Action("email", "email", 5.0)]


def test_exact_beats_greedy_when_density_misleads() -> None:
    # call has the best density (9/6) but spends the budget on one customer; two e-mails give 14
    values = _values(
        {
            "c1": {"call": 9.0, "email": -1.0},
            "c2": {"call": -1.0, "email": 7.0},
            "c3": {"call": -1.0, "email": 7.0},
        }
    )
    greedy = allocate(values, _all_eligible(values), TWO, budget=10.0, method="greedy")
    exact = allocate(values, _all_eligible(values), TWO, budget=10.0, method="exact")
    assert greedy["action"].tolist() == ["call", "none", "none"]
    assert exact["action"].tolist() == ["none", "email", "email"]
    assert exact["expected_gain"].sum() == 14.0 > greedy["expected_gain"].sum() == 9.0
    assert exact["cost"].sum() == 10.0
    assert exact.attrs["status"].startswith("exact: optimal")
    assert list(exact.columns) == ["action", "expected_gain", "cost", "runner_up", "runner_up_gain"]


@pytest.mark.parametrize("method", ["greedy", "exact"])
def test_budget_binds(method: str) -> None:
    values = _values({"a": {"email": 5.0}, "b": {"email": 4.0}, "c": {"email": 3.0}})
    got = allocate(values, _all_eligible(values), [Action("email", "e", 1.0)], 2.0, method)  # type: ignore[arg-type]
    assert got["action"].tolist() == ["email", "email", "none"]
    assert got["cost"].sum() == 2.0
    assert got.loc["c", "runner_up"] == "email"  # worth it, but out of budget


@pytest.mark.parametrize("method", ["greedy", "exact"])
def test_capacity_binds(method: str) -> None:
    catalog = [Action("call", "phone", 1.0, capacity=1), Action("email", "e", 1.0)]
    values = _values(
        {
            "a": {"call": 10.0, "email": 3.0},
            "b": {"call": 20.0, "email": 1.0},
            "c": {"call": 5.0, "email": 4.0},
        }
    )
    got = allocate(values, _all_eligible(values), catalog, None, method)  # type: ignore[arg-type]
    assert got["action"].tolist() == ["email", "call", "email"]
    assert got["expected_gain"].sum() == 27.0
    assert got["runner_up"].tolist() == ["call", "email", "call"]
    assert got["runner_up_gain"].tolist() == [10.0, 1.0, 5.0]


@pytest.mark.parametrize("method", ["greedy", "exact"])
def test_never_negative_zero_missing_or_ineligible(method: str) -> None:
    catalog = [Action("call", "phone", 1.0), Action("email", "e", 1.0), Action("sms", "s", 0.0)]
    values = _values(
        {
            "a": {"call": -1.0, "email": 0.0, "sms": -0.5},  # nothing worth doing
            "b": {"call": 50.0, "email": 2.0, "sms": NAN},  # call is best but ineligible
            "c": {"call": NAN, "email": -3.0, "sms": 1.0},  # free sms is worth a little
        }
    )
    allowed = _all_eligible(values)
    allowed.loc["b", "call"] = False
    got = allocate(values, allowed, catalog, None, method)  # type: ignore[arg-type]
    assert got["action"].tolist() == ["none", "email", "sms"]
    assert got["expected_gain"].tolist() == [0.0, 2.0, 1.0]
    assert got["cost"].tolist() == [0.0, 1.0, 0.0]
    assert got["runner_up"].tolist() == ["none", "none", "none"]
    assert got["runner_up_gain"].tolist() == [0.0, 0.0, 0.0]


def test_runner_up_is_next_best_eligible_positive() -> None:
    catalog = [Action("call", "p", 1.0), Action("email", "e", 1.0), Action("sms", "s", 1.0)]
    values = _values({"a": {"call": 9.0, "email": 7.0, "sms": 8.0}})
    allowed = _all_eligible(values)
    got = allocate(values, allowed, catalog, None)
    assert (got.loc["a", "action"], got.loc["a", "runner_up"]) == ("call", "sms")
    assert got.loc["a", "runner_up_gain"] == 8.0
    allowed.loc["a", "sms"] = False
    assert allocate(values, allowed, catalog, None).loc["a", "runner_up"] == "email"


def test_an_action_this_run_cannot_give_is_never_the_runner_up() -> None:
    """Closed (capacity 0) or dearer than the whole budget: naming it would promise what the
    retention team cannot do."""
    closed = [
        Action("call", "p", 1.0, capacity=0),
        Action("email", "e", 1.0),
        Action("sms", "s", 1.0),
    ]
    values = _values({"a": {"call": 9.0, "email": 7.0, "sms": 8.0}})
    allowed = _all_eligible(values)
    for got in (allocate(values, allowed, closed, None), best_each(values, allowed, closed)):
        assert (got.loc["a", "action"], got.loc["a", "runner_up"]) == ("sms", "email")
    dear = [Action("call", "p", 5.0), Action("email", "e", 1.0), Action("sms", "s", 1.0)]
    got = allocate(values, allowed, dear, budget=2.0)
    assert (got.loc["a", "action"], got.loc["a", "runner_up"]) == ("sms", "email")


def test_greedy_ties_go_to_smaller_customer_id_then_earlier_action() -> None:
    catalog = [Action("x", "e", 1.0), Action("y", "e", 1.0)]
    values = _values({"b": {"x": 5.0, "y": 5.0}, "a": {"x": 5.0, "y": 5.0}})
    got = allocate(values, _all_eligible(values), catalog, 1.0, method="greedy")
    assert got["action"].to_dict() == {"b": "none", "a": "x"}


def test_best_each_takes_the_highest_value_whatever_others_get() -> None:
    # a: the e-mail has the better density (7/1 against 9/6) but the call is worth more;
    # b and c both get the call though it has room for one: capacity means something only
    # across a run; a closed action (capacity 0) and an ineligible one are never picked
    catalog = [
        Action("call", "phone", 6.0, capacity=1),
        Action("email", "e", 1.0),
        Action("sms", "s", 1.0, capacity=0),
    ]
    values = _values(
        {
            "a": {"call": 9.0, "email": 7.0, "sms": -1.0},
            "b": {"call": 8.0, "email": 2.0, "sms": -1.0},
            "c": {"call": 8.0, "email": 9.0, "sms": -1.0},
            "d": {"call": -1.0, "email": 0.0, "sms": 50.0},
        }
    )
    allowed = _all_eligible(values)
    allowed.loc["c", "email"] = False
    got = best_each(values, allowed, catalog)
    assert got["action"].tolist() == ["call", "call", "call", "none"]
    assert got["expected_gain"].tolist() == [9.0, 8.0, 8.0, 0.0]
    assert got["runner_up"].tolist()[:3] == ["email", "email", "none"]
    assert list(got.columns) == list(allocate(values, allowed, catalog, None).columns)
    assert allocate(values, allowed, catalog, None, "greedy")["action"]["a"] == "email"


def test_allocation_errors() -> None:
    values = _values({"a": {"call": 1.0, "email": 1.0}})
    with pytest.raises(ValueError, match="method"):
        allocate(values, _all_eligible(values), TWO, None, method="best")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="budget"):
        allocate(values, _all_eligible(values), TWO, -1.0)
    with pytest.raises(ValueError, match="no column"):
        allocate(values[["call"]], _all_eligible(values), TWO, None)


def _random_problem(seed: int, n: int = 400) -> tuple[pd.DataFrame, list[Action]]:
    rng = np.random.default_rng(seed)
    catalog = [Action(f"a{j}", "e", float(c), capacity=cap) for j, (c, cap) in
               enumerate([(1, None), (5, 40), (12, None), (30, 10)])]  # fmt: skip
    values = pd.DataFrame(
        rng.normal(-2, 10, size=(n, 4)) + np.array([0, 5, 12, 30]),
        index=[f"c{i:04d}" for i in range(n)],
        columns=[a.name for a in catalog],
    )
    return values, catalog


def test_exact_at_the_time_limit_returns_a_feasible_solution_and_says_so(monkeypatch) -> None:
    values, catalog = _random_problem(1)
    allowed = _all_eligible(values)
    greedy = allocate(values, allowed, catalog, 300.0, method="greedy")["expected_gain"].sum()
    stopped = SimpleNamespace(x=None, status=1, message="Time limit reached.")
    for patched in (False, True):
        if patched:  # HiGHS gave up with nothing: the heuristic incumbent must be returned
            monkeypatch.setattr(_assign, "milp", lambda *a, **k: stopped)
        got = allocate(values, allowed, catalog, 300.0, time_limit=0.0)
        counts = got["action"].value_counts()
        assert got["cost"].sum() <= 300.0 + 1e-9
        assert counts.get("a1", 0) <= 40 and counts.get("a3", 0) <= 10
        assert got["expected_gain"].sum() >= greedy
    assert "time limit" in got.attrs["status"] and "best feasible" in got.attrs["status"]


# --- properties -------------------------------------------------------------------------------

SEGMENTS = ["a", "b", "c"]
CHANNELS = ["email", "phone", "sms"]


@st.composite
def scenarios(draw: Any, max_customers: int = 10, max_actions: int = 5) -> dict[str, Any]:
    n = draw(st.integers(1, max_customers))
    ids = draw(st.permutations([f"c{i:02d}" for i in range(n)]))  # index not in id order
    segment = draw(st.lists(st.sampled_from([*SEGMENTS, None]), min_size=n, max_size=n))
    score = draw(st.lists(st.sampled_from([NAN, 0.0, 10.0, 50.0, 90.0]), min_size=n, max_size=n))
    customers = pd.DataFrame({"segment": segment, "score": score}, index=pd.Index(ids))
    catalog = [draw(_actions(j)) for j in range(draw(st.integers(1, max_actions)))]
    names = [a.name for a in catalog]
    contact = draw(st.none() | st.builds(ContactPolicy, st.integers(0, 3), st.integers(1, 14)))
    entry = st.tuples(
        st.sampled_from(ids),
        st.integers(-30 * 24, 5 * 24).map(lambda h: AS_OF + pd.Timedelta(hours=h)),
        st.sampled_from([*names, "other"]),
        st.sampled_from(CHANNELS),
    )
    log = _log(draw(st.lists(entry, max_size=15)))
    cells = st.lists(st.integers(-5, 10).map(float), min_size=len(names), max_size=len(names))
    values = pd.DataFrame(
        [draw(cells) for _ in ids], index=customers.index, columns=names, dtype=float
    )
    budget = draw(st.none() | st.sampled_from([0.0, 1.0, 5.0, 12.5, 40.0]))
    return dict(customers=customers, catalog=catalog, contact=contact, log=log, values=values,
                budget=budget)  # fmt: skip


@st.composite
def _actions(draw: Any, j: int) -> Action:
    rules = []
    if draw(st.booleans()):
        rules.append(Rule("segment", isin=tuple(draw(st.sets(st.sampled_from(SEGMENTS))))))
    if draw(st.booleans()):
        low = draw(st.sampled_from([None, 0.0, 20.0]))
        rules.append(Rule("score", min=low, max=draw(st.sampled_from([None, 60.0, 100.0]))))
    return Action(
        f"act{j}",
        draw(st.sampled_from(CHANNELS)),
        draw(st.sampled_from([0.0, 1.0, 2.5, 5.0, 10.0])),
        rules=tuple(rules),
        capacity=draw(st.none() | st.integers(0, 4)),
        cooldown_days=draw(st.integers(0, 20)),
    )


def _allowed_by_hand(s: dict[str, Any], cid: str, action: Action) -> bool:
    """Eligibility re-derived row by row from the rules and the raw log."""
    row = s["customers"].loc[cid]
    for rule in action.rules:
        v = row[rule.column]
        if v is None or (isinstance(v, float) and np.isnan(v)):
            return False
        if rule.isin is not None and v not in rule.isin:
            return False
        if (rule.min is not None and v < rule.min) or (rule.max is not None and v > rule.max):
            return False
    past = [r for r in s["log"].itertuples() if r.customer_id == cid and r.action_time < AS_OF]
    since = AS_OF - pd.Timedelta(days=action.cooldown_days)
    if action.cooldown_days and any(
        r.action == action.name and r.action_time >= since for r in past
    ):
        return False
    contact = s["contact"]
    if contact is None:
        return True
    start = AS_OF - pd.Timedelta(days=contact.period_days)
    used = sum(r.channel == action.channel and r.action_time >= start for r in past)
    return used < contact.max_contacts


def _check(s: dict[str, Any], got: pd.DataFrame) -> None:
    by_name = {a.name: a for a in s["catalog"]}
    chosen = got[got["action"] != "none"]
    for cid, row in chosen.iterrows():
        action = by_name[row["action"]]
        assert _allowed_by_hand(s, str(cid), action), (cid, action.name)
        assert row["expected_gain"] == s["values"].loc[cid, action.name] > 0
        assert row["cost"] == action.cost
    if s["budget"] is not None:
        assert chosen["cost"].sum() <= s["budget"] + 1e-9
    for name, count in chosen["action"].value_counts().items():
        cap = by_name[str(name)].capacity
        assert cap is None or count <= cap
    assert (got.loc[got["action"] == "none", ["expected_gain", "cost"]] == 0).all().all()


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(), st.sampled_from(["as drawn", "empty", "none"]))
def test_eligibility_matches_the_rules_cell_by_cell(s: dict[str, Any], log_kind: str) -> None:
    """Every (customer, action) cell, whatever the log: an empty or absent log still applies
    max_contacts (0 blocks every contact)."""
    if log_kind != "as drawn":
        s = {**s, "log": s["log"].iloc[:0]}
    log = None if log_kind == "none" else s["log"]
    got = eligible(s["customers"], s["catalog"], log, s["contact"], AS_OF)
    for cid in s["customers"].index:
        for action in s["catalog"]:
            assert got.loc[cid, action.name] == _allowed_by_hand(s, cid, action), (cid, action)


def test_no_contacts_allowed_blocks_everyone_even_with_no_log() -> None:
    for log in (None, _log([])):
        got = eligible(CUSTOMERS, CATALOG, log, ContactPolicy(max_contacts=0, period_days=7), AS_OF)
        assert not got.to_numpy().any()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_allocation_respects_every_constraint(s: dict[str, Any]) -> None:
    allowed = eligible(s["customers"], s["catalog"], s["log"], s["contact"], AS_OF)
    results = {}
    for method in ("greedy", "exact"):
        got = allocate(s["values"], allowed, s["catalog"], s["budget"], method)
        _check(s, got)
        results[method] = got["expected_gain"].sum()
    assert results["exact"] >= results["greedy"] - 1e-9


def _brute_force(values: pd.DataFrame, allowed: pd.DataFrame, catalog: list[Action],
                 budget: float | None) -> float:  # fmt: skip
    options = [
        [None] + [j for j, a in enumerate(catalog) if allowed.iloc[i, j] and values.iloc[i, j] > 0]
        for i in range(len(values))
    ]
    best = 0.0
    for pick in itertools.product(*options):
        used = [j for j in pick if j is not None]
        if budget is not None and sum(catalog[j].cost for j in used) > budget + 1e-9:
            continue
        if any(
            a.capacity is not None and used.count(j) > a.capacity for j, a in enumerate(catalog)
        ):
            continue
        best = max(best, sum(values.iloc[i, j] for i, j in enumerate(pick) if j is not None))
    return best


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(max_customers=6, max_actions=3))
def test_exact_matches_brute_force(s: dict[str, Any]) -> None:
    allowed = eligible(s["customers"], s["catalog"], s["log"], s["contact"], AS_OF)
    assume(np.prod([(row > 0).sum() + 1 for _, row in s["values"].iterrows()]) <= 5000)
    got = allocate(s["values"], allowed, s["catalog"], s["budget"], "exact", gap=0.0)
    best = _brute_force(s["values"], allowed, s["catalog"], s["budget"])
    assert got["expected_gain"].sum() == pytest.approx(best, abs=1e-9)
