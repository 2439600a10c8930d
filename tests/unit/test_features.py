"""Point-in-time features: boundaries on inline rows, no leakage, batch equals online."""

from __future__ import annotations

import weakref

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cxml.data.simulate import SimConfig, simulate
from cxml.features.build import build_features, feature_catalog, log_start
from cxml.features.catalog import Features
from cxml.jobs.features import batch_features

CUTOFF = pd.Timestamp("2024-06-01", tz="UTC")
CUSTOMERS = pd.DataFrame(
    {
        "customer_id": ["a", "b"],
        "signup_time": pd.to_datetime(["2023-06-01", "2024-07-01"], utc=True),  # b joins later
        "name": ["Ann Lee", "Bob Roe"],  # PII: must not become a feature
        "plan": ["basic", "premium"],
    }
)


def events(rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(
        rows, columns=["customer_id", "event_time", "event_type", "channel", "value"]
    )
    frame["event_time"] = pd.to_datetime(frame["event_time"], utc=True)
    return frame


BOUNDARY = events(
    [
        ("a", "2024-06-01 00:00:00", "login", "app", None),  # exactly at the cutoff: excluded
        ("a", "2024-05-31 23:59:59", "login", "app", None),  # one second before: in every window
        ("a", "2024-05-02 00:00:00", "login", "web", None),  # exactly 30 days before: in 30d
        ("a", "2024-05-01 23:59:59", "login", "web", None),  # 30 days + 1 s before: in 90d, not 30d
        ("a", "2023-06-02 00:00:00", "login", "web", None),  # 365 days before: in 365d
        ("a", "2023-06-01 23:59:59", "login", "web", None),  # older than 365 days: excluded
        ("a", "2024-05-20 00:00:00", "purchase", "web", 30.0),
        ("a", "2024-05-25 00:00:00", "purchase", "store", 20.0),
        ("a", "2024-07-01 00:00:00", "purchase", "web", 999.0),  # after the cutoff: excluded
    ]
)


def test_window_edges():
    row = build_features(BOUNDARY, CUSTOMERS, CUTOFF).frame().loc["a"]
    assert row["n_login_7d"] == 1
    assert row["n_login_30d"] == 2
    assert row["n_login_90d"] == 3
    assert row["n_login_365d"] == 4
    assert row["amount_purchase_30d"] == 50.0
    assert row["days_since_last_login_365d"] == pytest.approx(1 / 86_400)
    assert row["n_channel_store_30d"] == 1 and row["share_channel_web_90d"] == pytest.approx(3 / 5)
    assert row["tenure_days"] == 366  # 2024 is a leap year
    assert np.isnan(build_features(BOUNDARY, CUSTOMERS, CUTOFF).frame().loc["b", "tenure_days"])
    assert row["rate_login_per_week_365d"] == pytest.approx(4 / (365 / 7))  # here all year


def test_unknown_channels_count_as_other_whatever_form_the_tables_take():
    """A channel outside the config is "other", a missing one is no channel; the same from
    object columns, categorical columns, or the columns' arrays (as the endpoint sends)."""
    rows = events(
        [
            ("a", "2024-05-30", "login", "fax", None),
            ("a", "2024-05-29", "login", None, None),
            ("a", "2024-05-28", "login", "web", None),
        ]
    )
    categorical = rows.astype({"channel": "category", "event_type": "category"})
    arrays = {c: rows[c].to_numpy() for c in rows.columns}
    arrays["event_time"] = pd.DatetimeIndex(rows["event_time"])
    profile = {c: CUSTOMERS[c].to_numpy() for c in CUSTOMERS.columns}
    profile["signup_time"] = pd.DatetimeIndex(CUSTOMERS["signup_time"])
    expected = build_features(rows, CUSTOMERS, CUTOFF).frame()
    assert expected.loc["a", "n_channel_other_30d"] == 1
    assert expected.loc["a", "n_channel_web_30d"] == 1
    assert expected.loc["a", "share_channel_other_30d"] == pytest.approx(1 / 2)
    for events_in, customers_in in ((categorical, CUSTOMERS), (arrays, profile)):
        got = build_features(events_in, customers_in, CUTOFF).frame()
        pd.testing.assert_frame_equal(got, expected)


@pytest.mark.parametrize("others", [0, 50])
def test_a_slice_of_a_categorical_base_reads_as_its_plain_ids(others):
    """A notebook's few rows of a loaded base keep the whole base's customer categories (more
    of them than rows, with `others`): the features are those of the same rows with plain ids,
    a row with a missing id or one outside the customers table counted for no one."""
    rows = events(
        [
            ("a", "2024-05-30", "login", "web", None),
            ("b", "2024-05-29", "purchase", "app", 20.0),
            ("a", "2024-05-28", "login", None, None),
            ("z", "2024-05-27", "login", "web", None),  # not a customer of the table
        ]
    )
    whole = pd.CategoricalDtype([*(f"x{i}" for i in range(others)), "z", "b", "a"])
    categorical = rows.assign(customer_id=rows["customer_id"].astype(whole))
    missing = categorical.iloc[:1].assign(customer_id=pd.Categorical([None], dtype=whole))
    expected = build_features(rows, CUSTOMERS, CUTOFF).frame()
    got = build_features(pd.concat([categorical, missing]), CUSTOMERS, CUTOFF).frame()
    pd.testing.assert_frame_equal(got, expected)
    assert expected.loc["a", "n_login_30d"] == 2


def test_rates_count_only_the_weeks_a_customer_was_there():
    customers = pd.DataFrame(
        {
            "customer_id": ["new", "unknown"],
            "signup_time": pd.to_datetime(["2024-05-18", None], utc=True),  # 14 days; unknown
        }
    )
    logins = [
        (c, f"2024-05-{d} 12:00", "login", "app", None)
        for c in customers.customer_id
        for d in (20, 24, 28, 30)
    ]
    features = build_features(events(logins), customers, CUTOFF).frame()
    assert features.loc["new", "rate_login_per_week_365d"] == pytest.approx(2.0)  # 4 in 2 weeks
    assert features.loc["unknown", "rate_login_per_week_365d"] == pytest.approx(4 / (365 / 7))
    assert features.loc["new", "rate_purchase_per_week_365d"] == 0


def test_ticket_resolved_after_the_cutoff_was_still_open_at_the_cutoff():
    rows = events(
        [
            (
                "a",
                "2024-05-30 00:00:00",
                "support_ticket",
                "chat",
                72.0,
            ),  # resolved Jun 2: open then
            ("a", "2024-05-20 00:00:00", "support_ticket", "chat", 10.0),  # resolved May 20: closed
            ("a", "2024-05-25 00:00:00", "support_ticket", "chat", None),  # never resolved: open
        ]
    )
    row = build_features(rows, CUSTOMERS, CUTOFF).frame().loc["a"]
    assert row["n_support_ticket_30d"] == 3
    assert row["n_unresolved_ticket_30d"] == 2
    assert row["mean_resolution_hours_90d"] == 10.0


def test_voice_of_the_customer():
    rows = events(
        [
            ("a", "2024-01-10 00:00:00", "survey_nps", "email", 9.0),
            ("a", "2024-05-10 00:00:00", "survey_nps", "email", 4.0),  # the last one before cutoff
            ("a", "2024-06-10 00:00:00", "survey_nps", "email", 0.0),  # after the cutoff: unseen
        ]
    )
    rows["text"] = [None, "terrible support, still waiting", "great"]
    row = build_features(rows, CUSTOMERS, CUTOFF).frame().loc["a"]
    assert row["nps_last_365d"] == 4 and row["nps_change_365d"] == -5
    assert row["nps_band_365d"] == 0  # detractor
    assert row["nps_mean_365d"] == 6.5  # 9 and 4; the answer after the cutoff is unseen
    assert np.isnan(row["csat_mean_365d"])  # never answered
    assert row["comment_sentiment_90d"] < 0


def test_pii_never_becomes_a_feature_and_catalog_matches_columns():
    built = build_features(BOUNDARY, CUSTOMERS, CUTOFF)
    features, catalog = built.frame(), built.catalog()
    assert not any(c.removeprefix("profile_") == "name" for c in features.columns)
    assert list(catalog.index) == list(features.columns)
    assert list(feature_catalog(CUSTOMERS).index) == list(features.columns)
    assert all(c.endswith("d") or c.startswith(("profile_", "tenure_")) for c in features.columns)


@pytest.fixture(scope="module")
def sim():
    return simulate(SimConfig(customers=600, seed=3, truth_replicates=4))


def test_one_customer_alone_equals_its_batch_row(sim):
    cutoff = sim.config.cutoff
    batch = build_features(sim.events, sim.customers, cutoff).frame()
    for cid in sim.customers["customer_id"].iloc[[0, 17, 301, 599]]:
        own = sim.events[sim.events["customer_id"] == cid]
        alone = build_features(
            own, sim.customers[sim.customers["customer_id"] == cid], cutoff
        ).frame()
        pd.testing.assert_frame_equal(alone, batch.loc[[cid]], check_dtype=False)


@pytest.mark.parametrize("ids_as", ["category", "text"])
@pytest.mark.parametrize("chunk", [7, 10**6])
def test_features_in_blocks_of_customers_equal_the_whole_base(sim, ids_as, chunk):
    """A build takes a block of customers at a time: every block must see exactly its own
    customers' events (ids and comments as Parquet's categories or as CSV's text, an event of
    a customer missing from the table ignored), in any row order; and a base of one block, all
    of them. The catalog is the same."""
    cutoff = sim.config.cutoff
    stranger = sim.events.head(3).assign(customer_id="not-a-customer")
    ev = pd.concat([sim.events, stranger], ignore_index=True).sample(frac=1.0, random_state=2)
    for column in ("customer_id", "text"):
        ev[column] = ev[column].astype(ids_as if ids_as == "category" else object)
    assert ev["text"].notna().sum() > 100  # comments to read
    whole = build_features(
        sim.events, sim.customers, cutoff, since=log_start(ev), block_customers=10**6
    )
    blocks = batch_features(ev, sim.customers, cutoff, chunk_customers=chunk).frame()
    assert list(blocks.index) == list(sim.customers["customer_id"])
    pd.testing.assert_frame_equal(blocks, whole.frame())
    built = build_features(ev, sim.customers, cutoff, since=log_start(ev), block_customers=chunk)
    pd.testing.assert_frame_equal(built.catalog(), whole.catalog())
    one_thread = build_features(
        ev, sim.customers, cutoff, since=log_start(ev), block_customers=chunk, threads=1
    )
    pd.testing.assert_frame_equal(one_thread.frame(), built.frame())  # the blocks on threads


def test_blocks_are_copied_into_the_table_as_they_come_and_let_go():
    """A big base's blocks are never all held beside the whole table: each is copied as it
    comes. A column whose type widens in a later block (no text, then text) is as
    `np.concatenate` makes it."""
    alive: list[weakref.ref] = []

    def parts():
        for k in range(4):
            assert sum(ref() is not None for ref in alive) <= 1  # the last block only
            ids = pd.Index([f"c{k}a", f"c{k}b"], name="customer_id")
            text = np.array([np.nan, np.nan]) if k == 0 else np.array(["x", None], dtype=object)
            part = Features(ids, {"n": np.array([k, k + 0.5]), "plan": text})
            alive.append(weakref.ref(part))
            yield part

    table = Features.concat(parts(), rows=8)
    assert list(table.index[:3]) == ["c0a", "c0b", "c1a"]
    assert table["n"].tolist() == [0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5]
    plans = [np.array([np.nan, np.nan])] + [np.array(["x", None], dtype=object)] * 3
    expected = np.concatenate(plans)
    assert table["plan"].dtype == expected.dtype == object
    assert pd.isna(table["plan"][:2]).all() and table["plan"][2:].tolist() == ["x", None] * 3
    with pytest.raises(ValueError, match="hold 8 rows, not 9"):
        Features.concat(parts(), rows=9)


def test_row_order_never_changes_a_feature(sim):
    cutoff = sim.config.cutoff
    shuffled = sim.events.sample(frac=1.0, random_state=1)
    pd.testing.assert_frame_equal(
        build_features(shuffled, sim.customers, cutoff).frame(),
        build_features(sim.events, sim.customers, cutoff).frame(),
    )


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(0, 10_000), days_ahead=st.integers(-200, 0))
def test_events_at_or_after_the_cutoff_never_change_a_feature(sim, seed, days_ahead):
    cutoff = sim.config.cutoff + pd.Timedelta(days=days_ahead)
    ev = sim.events
    past = ev[ev["event_time"] < cutoff]
    baseline = build_features(past, sim.customers, cutoff).frame()
    rng = np.random.default_rng(seed)
    future = ev[ev["event_time"] >= cutoff].sample(frac=rng.uniform(0, 1), random_state=seed)
    future = future.assign(value=future["value"] * rng.uniform(0, 3))  # changed values
    at_cutoff = future.head(5).assign(event_time=cutoff)  # exactly at the cutoff
    changed = pd.concat([past, future, at_cutoff], ignore_index=True)
    pd.testing.assert_frame_equal(build_features(changed, sim.customers, cutoff).frame(), baseline)


def test_rates_count_only_the_weeks_the_log_shows():
    """The log starts 30 days before the cutoff: counts are what it shows; rates are per week
    of it, so a 90-day window that reaches before the log does not read as a quiet customer."""
    customers = pd.DataFrame(
        {
            "customer_id": ["old", "new"],
            "signup_time": pd.to_datetime(["2020-01-01", "2024-05-22"], utc=True),  # new: 10 days
        }
    )
    rows = events(
        [
            ("old", "2024-05-05", "login", "app", None),  # inside the logged 30 days
            ("old", "2024-05-15", "login", "app", None),
            ("old", "2024-05-25", "login", "app", None),
            ("new", "2024-05-25", "login", "app", None),  # joined after the log started
            ("new", "2024-05-30", "login", "app", None),
        ]
    )
    since = pd.Timestamp("2024-05-02", tz="UTC")  # the log's first day
    got = build_features(rows, customers, CUTOFF, since=since).frame()
    assert got.loc["old", "n_login_90d"] == 3  # what the log shows, not extrapolated
    assert got.loc["old", "rate_login_per_week_365d"] == pytest.approx(3 / (30 / 7))
    assert got.loc["new", "rate_login_per_week_365d"] == pytest.approx(2 / (10 / 7))  # its days
    unknown = build_features(rows, customers, CUTOFF).frame()  # the log's start not given
    assert unknown.loc["old", "rate_login_per_week_365d"] == pytest.approx(3 / (365 / 7))
    long_ago = build_features(rows, customers, CUTOFF, since=CUTOFF - pd.Timedelta(days=400))
    pd.testing.assert_frame_equal(long_ago.frame(), unknown)  # every window covered


def test_pii_columns_are_matched_whatever_their_case_and_spacing():
    """`Email`, ` E-mail ` and `Date Of Birth` are the configured `email` and `date_of_birth`:
    none becomes a feature, and the quarantine of a bad row leaves them out too."""
    from cxml.data.validate import clean_table

    customers = CUSTOMERS.assign(
        **{"Email": ["a@x.org", "b@y.org"], " E-mail ": ["a", "b"], "Date Of Birth": ["1", "2"]}
    )
    built = build_features(BOUNDARY, customers, CUTOFF).frame()
    assert [c for c in built.columns if c.startswith("profile_")] == ["profile_plan"]
    raw = customers.astype(object)
    raw.loc[1, "customer_id"] = None  # a faulty row: quarantined
    result = clean_table("customers", raw, "customers.csv")
    assert len(result.quarantine) == 1
    leaked = {"name", "Email", " E-mail ", "Date Of Birth"} & set(result.quarantine.columns)
    assert not leaked


def test_records_are_one_dict_of_python_values_per_row_the_index_first():
    from cxml.features.table import Table

    when = pd.DatetimeIndex(["2025-06-01", "2025-06-02"], tz="UTC").array
    table = Table(
        pd.Index(["a", "b"], name="customer_id"),
        {
            "p": np.array([0.25, 0.5]),
            "n": np.array([3, 4]),
            "ok": np.array([True, False]),
            "version": "7",
            "when": when,
            "reason": np.array(["x", ""], dtype=object),
        },
    )
    rows = table.records()
    assert rows == [
        {
            "customer_id": "a",
            "p": 0.25,
            "n": 3,
            "ok": True,
            "version": "7",
            "when": when[0],
            "reason": "x",
        },
        {
            "customer_id": "b",
            "p": 0.5,
            "n": 4,
            "ok": False,
            "version": "7",
            "when": when[1],
            "reason": "",
        },
    ]
    assert [type(rows[0][k]) for k in ("p", "n", "ok")] == [float, int, bool]
    assert list(rows[0]) == ["customer_id", "p", "n", "ok", "version", "when", "reason"]
