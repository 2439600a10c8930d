"""Profile attributes as of a cutoff (features/attributes.py): every inline history row below
says whether it is seen at the cutoff, and why. `valid_from < cutoff` is the past, as for events;
a customer and attribute with history never fall back to the customers table's value, which is
today's."""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from cxml.cli import app
from cxml.data.load import load_data_dir
from cxml.data.schema import ContractError, check_clean
from cxml.features.attributes import as_of, attribute_record, profile_columns
from cxml.features.build import build_features

CUTOFF = pd.Timestamp("2024-06-01", tz="UTC")
SECOND = pd.Timedelta(seconds=1)
BEFORE = CUTOFF - pd.Timedelta(days=60)  # a plain "in the past" time
AFTER = CUTOFF + pd.Timedelta(days=10)  # a plain "in the future" time

# The customers table holds the values of today (some changed after the cutoff).
CUSTOMERS = pd.DataFrame(
    {
        "customer_id": ["later", "at", "earlier", "static", "only_future", "two"],
        "signup_time": pd.to_datetime(["2023-01-01"] * 6, utc=True),
        "email": [f"{c}@example.com" for c in "abcdef"],  # PII: never an attribute
        "plan": ["premium", "premium", "premium", "basic", "premium", "standard"],
        "monthly_charge": [85.0, 85.0, 85.0, 20.0, 85.0, 45.0],
        "region": ["north"] * 6,  # no history for anyone: static
    }
)


def history(rows: list[tuple[str, str, str | None, pd.Timestamp]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["customer_id", "attribute", "value", "valid_from"])
    frame["valid_from"] = frame["valid_from"].astype("datetime64[ns, UTC]")
    return frame


HISTORY = history(
    [
        ("later", "plan", "basic", BEFORE),  # before the cutoff: seen
        ("later", "plan", "premium", CUTOFF + SECOND),  # 1 s after the cutoff: not seen
        ("at", "plan", "basic", BEFORE),  # before the cutoff: seen
        ("at", "plan", "premium", CUTOFF),  # exactly at the cutoff: not seen (strictly before)
        ("earlier", "plan", "basic", BEFORE),  # superseded by the next row
        ("earlier", "plan", "premium", CUTOFF - SECOND),  # 1 s before: seen, the latest
        # "static" has no row: keeps the customers table's "basic"
        ("only_future", "plan", "premium", AFTER),  # after the cutoff: not seen -> unknown then
        ("two", "monthly_charge", "20", BEFORE),  # numeric column: "20" reads as 20.0
        ("two", "monthly_charge", "45", AFTER),  # after the cutoff: not seen
        ("two", "loyalty_tier", "gold", BEFORE),  # a new attribute: a new text column
        ("two", "plan", None, BEFORE),  # an empty value: unknown from then on
    ]
)


@pytest.fixture
def at_cutoff() -> pd.DataFrame:
    return as_of(CUSTOMERS, HISTORY, CUTOFF).set_index("customer_id")


def test_a_change_after_the_cutoff_is_not_seen_the_old_value_is(at_cutoff):
    assert at_cutoff.at["later", "plan"] == "basic"
    assert at_cutoff.at["two", "monthly_charge"] == 20.0


def test_a_change_exactly_at_the_cutoff_is_not_seen(at_cutoff):
    assert at_cutoff.at["at", "plan"] == "basic"
    one_second_later = as_of(CUSTOMERS, HISTORY, CUTOFF + SECOND).set_index("customer_id")
    assert one_second_later.at["at", "plan"] == "premium"


def test_a_change_before_the_cutoff_is_seen(at_cutoff):
    assert at_cutoff.at["earlier", "plan"] == "premium"


def test_a_customer_without_history_keeps_the_customers_table_value(at_cutoff):
    assert at_cutoff.at["static", "plan"] == "basic"
    assert at_cutoff.at["static", "monthly_charge"] == 20.0
    assert (at_cutoff["region"] == "north").all()  # an attribute without any history: static


def test_history_only_after_the_cutoff_is_unknown_not_todays_value(at_cutoff):
    assert at_cutoff.at["only_future", "plan"] is None  # not "premium", which is today's


def test_types_new_attributes_and_empty_values(at_cutoff):
    assert at_cutoff["monthly_charge"].dtype == float  # a numeric column stays numeric
    assert at_cutoff.at["two", "loyalty_tier"] == "gold"
    assert at_cutoff.at["later", "loyalty_tier"] is None  # no row of it: unknown
    assert at_cutoff["loyalty_tier"].dtype == object
    assert at_cutoff.at["two", "plan"] is None  # the row said: no value from then on


def test_nothing_is_written_into_the_customers_table():
    before = CUSTOMERS.copy()
    as_of(CUSTOMERS, HISTORY, CUTOFF)
    pd.testing.assert_frame_equal(CUSTOMERS, before)
    assert as_of(CUSTOMERS, None, CUTOFF) is CUSTOMERS  # no history: as it is


def test_one_customers_slice_gives_the_whole_bases_columns_and_values(at_cutoff):
    """/predict_by_id reads one customer's rows; `names` keeps the columns the model knows."""
    whole = as_of(CUSTOMERS, HISTORY, CUTOFF)
    names = ["loyalty_tier", "monthly_charge", "plan"]
    for cid in CUSTOMERS["customer_id"]:
        own = HISTORY[HISTORY["customer_id"] == cid]
        one = as_of(CUSTOMERS[CUSTOMERS["customer_id"] == cid], own, CUTOFF, names)
        expected = whole[whole["customer_id"] == cid]
        pd.testing.assert_frame_equal(one, expected)
    template = profile_columns(CUSTOMERS, HISTORY)
    assert list(template.columns) == list(whole.columns) and template.empty


def test_the_features_read_the_profile_as_of_the_cutoff():
    no_events = pd.DataFrame(
        {
            "customer_id": pd.Series([], dtype=object),
            "event_time": pd.Series([], dtype="datetime64[ns, UTC]"),
            "event_type": pd.Series([], dtype=object),
        }
    )
    frame = build_features(no_events, as_of(CUSTOMERS, HISTORY, CUTOFF), CUTOFF).frame()
    assert frame.at["later", "profile_plan"] == "basic"
    assert frame.at["two", "profile_loyalty_tier"] == "gold"
    assert "profile_email" not in frame


def test_the_record_names_attributes_with_history_and_static_ones():
    record = attribute_record(profile_columns(CUSTOMERS, HISTORY), HISTORY, ("email",))
    assert record == {
        "with_history": ["loyalty_tier", "monthly_charge", "plan"],
        "static": ["region"],  # customer_id, signup_time and PII are not attributes
    }


# --- the table in a data dir: validation and quarantine ------------------------------------
CUSTOMERS_CSV = """customer_id,signup_time,email,plan
c1,2024-01-05,ann@example.com,basic
c2,2024-02-01,bob@example.com,premium
"""
EVENTS_CSV = """customer_id,event_time,event_type
c1,2024-02-01T10:00:00Z,login
c2,2024-02-04T09:00:00Z,login
"""
ATTRIBUTES_CSV = "\n".join(
    [
        "customer_id,attribute,value,valid_from",
        "c1,plan,basic,2024-01-05",  # row 1: fine
        "c1,plan,premium,2024-03-01T00:00:00Z",  # row 2: fine, a later change
        "c2,plan,premium,last spring",  # row 3: valid_from unparseable -> quarantined
        "zz,plan,basic,2024-01-01",  # row 4: unknown customer -> quarantined
        "c1,email,new@example.com,2024-02-01",  # row 5: a PII attribute -> quarantined, withheld
        "c2,Email ,old@example.com,2024-02-01",  # row 6: PII whatever its case -> quarantined
        "c1,plan,standard,2024-01-05",  # row 7: repeats row 1's customer, attribute, time
        "c2,signup_time,2024-01-01,2024-02-01",  # row 8: signup_time has no history
        "c2,tier,,2024-02-01",  # row 9: fine: an empty value is unknown from then on
    ]
)


def attributes_dir(tmp_path, attributes: str = ATTRIBUTES_CSV):
    data = tmp_path / "data"
    data.mkdir()
    (data / "customers.csv").write_text(CUSTOMERS_CSV)
    (data / "events.csv").write_text(EVENTS_CSV)
    (data / "attributes.csv").write_text(attributes + "\n")
    return data


def test_bad_attribute_rows_are_quarantined_with_reasons_and_counted(tmp_path):
    data = attributes_dir(tmp_path)
    result = CliRunner().invoke(app, ["validate", str(data)])
    assert result.exit_code == 2
    for line in [
        "attributes.csv: column 'valid_from': 1 row(s) not a timestamp",
        "attributes.csv: column 'customer_id': 1 row(s) unknown customer",
        "attributes.csv: column 'attribute': 2 row(s) a PII attribute",
        "attributes.csv: column 'customer_id': 1 row(s) duplicate customer_id + attribute",
        "attributes.csv: column 'attribute': 1 row(s) not a profile attribute",
    ]:
        assert line in result.output
    quarantine = pd.read_csv(data / "quarantine" / "attributes.quarantine.csv")
    assert quarantine["source_row"].tolist() == [3, 4, 5, 6, 7, 8]
    assert quarantine["reason"].str.len().gt(0).all()
    assert "@example.com" not in (data / "quarantine" / "attributes.quarantine.csv").read_text()
    assert "@example.com" not in result.output
    loaded = load_data_dir(data)
    clean = loaded.tables["attributes"]
    assert len(clean) + len(quarantine) == 9  # nothing dropped silently
    assert clean["attribute"].tolist() == ["plan", "plan", "tier"]
    check_clean("attributes", clean)


def test_a_number_that_is_not_one_is_quarantined_where_the_column_holds_numbers(tmp_path):
    data = attributes_dir(tmp_path, "customer_id,attribute,value,valid_from")
    customers = pd.read_csv(data / "customers.csv").assign(monthly_charge=[20.0, 85.0])
    (data / "customers.csv").unlink()
    customers.to_parquet(data / "customers.parquet")  # Parquet keeps the column numeric
    rows = [
        "customer_id,attribute,value,valid_from",
        "c1,monthly_charge,22.5,2024-02-01",  # a number: fine
        "c1,monthly_charge,cheap,2024-03-01",  # text where the column holds numbers
        "c1,plan,42,2024-03-01",  # a number in a text column: fine, text "42"
    ]
    (data / "attributes.csv").write_text("\n".join(rows) + "\n")
    loaded = load_data_dir(data)
    quarantine = loaded.results["attributes"].quarantine
    assert quarantine["source_row"].tolist() == [2]
    assert "not a number" in quarantine["reason"].iloc[0]
    profile = as_of(loaded.tables["customers"], loaded.tables["attributes"], "2024-04-01")
    assert profile.set_index("customer_id").at["c1", "monthly_charge"] == 22.5
    assert profile.set_index("customer_id").at["c1", "plan"] == "42"


def test_a_malformed_attributes_file_is_a_contract_error(tmp_path):
    data = attributes_dir(tmp_path, "customer_id,attribute,value,since\nc1,plan,basic,2024-01-01")
    with pytest.raises(ContractError, match=r"required column.*valid_from missing"):
        load_data_dir(data)
    result = CliRunner().invoke(app, ["validate", str(data)])
    assert result.exit_code == 2 and "valid_from" in result.output


def test_the_summary_counts_the_history_per_attribute(tmp_path):
    good = "\n".join(ATTRIBUTES_CSV.splitlines()[:3])
    result = CliRunner().invoke(app, ["validate", str(attributes_dir(tmp_path, good))])
    assert result.exit_code == 0, result.output
    assert "attribute history: plan 2" in result.output
