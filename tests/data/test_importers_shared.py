"""Importers on the real datasets: the READMEs' published counts, reproduced exactly."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pandas as pd
import pytest

from cxml.data.importers import (
    GUEST_REASON,
    HILLSTROM_ACTION_TIME,
    TELCO_CUTOFF,
    import_hillstrom,
    import_online_retail,
    import_telco,
)
from cxml.data.schema import check_clean
from cxml.data.sources import ImportResult

TELCO = "telco_customer_churn/Telco-Customer-Churn.csv"
RETAIL = "online_retail_uci/online_retail.csv.gz"
HILLSTROM = "hillstrom_email/hillstrom.csv"


@cache
def imported(path: Path) -> ImportResult:
    """Import each file once per session: Online Retail takes a few seconds."""
    importer = {TELCO: import_telco, RETAIL: import_online_retail, HILLSTROM: import_hillstrom}
    relative = f"{path.parent.name}/{path.name}"
    return importer[relative](path)


@pytest.mark.parametrize("source", [TELCO, RETAIL, HILLSTROM])
def test_tables_keep_the_contract(shared_data: Path, source: str) -> None:
    result = imported(shared_data / source)
    for table, frame in result.tables.items():
        check_clean(table, frame)
    events = result.tables["events"]
    assert events.equals(events.sort_values(["customer_id", "event_time"], kind="mergesort"))


def test_telco_readme_counts(shared_data: Path) -> None:
    result = imported(shared_data / TELCO)
    assert result.counts == {
        "rows_read": 7043,
        "customers": 7043,
        "churners": 1869,
        "total_charges_blank": 11,
        "quarantined_rows": 0,
    }
    customers = result.tables["customers"]
    blank = customers["TotalCharges"].isna()
    assert (customers.loc[blank, "tenure"] == 0).all()  # README: all blanks have tenure 0
    assert (customers.loc[blank, "signup_time"] == TELCO_CUTOFF).all()
    by_contract = result.tables["labels"]["churn"].groupby(customers["Contract"]).mean()
    assert by_contract.round(3).to_dict() == {
        "Month-to-month": 0.427,
        "One year": 0.113,
        "Two year": 0.028,
    }


def test_online_retail_readme_counts(shared_data: Path) -> None:
    counts = imported(shared_data / RETAIL).counts
    assert counts["rows_read"] == 541_909
    assert counts["guest_rows"] == 135_080
    assert counts["source_customers"] == 4_372
    assert counts["source_invoices"] == 25_900
    assert counts["cancellation_rows"] == 9_288
    # Found here: 383 cancellation lines are guests (quarantined), 8,905 have a customer.
    assert counts["guest_cancellation_rows"] == 383
    assert counts["cancellation_rows_imported"] == 8_905
    assert counts["bad_debt_rows"] == 3  # the 3 'A' lines are guest rows too
    assert counts["purchase_rows"] == 397_924
    assert counts["purchase_customers"] == 4_339
    assert counts["invoices"] == 18_536
    assert counts["quarantined_rows"] == 135_080


def test_online_retail_tables(shared_data: Path) -> None:
    result = imported(shared_data / RETAIL)
    events, customers = result.tables["events"], result.tables["customers"]
    purchases = events[events["event_type"] == "purchase"]
    assert len(purchases) == 18_536  # one event per (customer, invoice)
    assert purchases["customer_id"].nunique() == 4_339
    assert len(customers) == 4_372  # 33 customers have only cancellations
    assert customers["customer_id"].str.fullmatch(r"\d{5}").all()  # "17850", not "17850.0"
    assert events["event_time"].min() == pd.Timestamp("2010-12-01 08:26", tz="UTC")
    assert events["event_time"].max() == pd.Timestamp("2011-12-09 12:50", tz="UTC")
    assert (result.quarantine["reason"] == GUEST_REASON).sum() == 135_077


def test_hillstrom_readme_counts(shared_data: Path) -> None:
    result = imported(shared_data / HILLSTROM)
    counts = result.counts
    assert counts["customers"] == 64_000 and counts["quarantined_rows"] == 0
    assert (counts["arm_mens_email"], counts["arm_womens_email"], counts["arm_no_email"]) == (
        21_307,
        21_387,
        21_306,
    )
    actions = result.tables["actions"].set_index("customer_id")["action"]
    events = result.tables["events"]
    past = events["event_time"] < HILLSTROM_ACTION_TIME  # each customer's last purchase before
    assert past.sum() == counts["past_purchases"] == 64_000
    assert events.loc[past, "customer_id"].is_unique
    events = events[~past]
    ids = actions.index
    for event_type, published in [
        ("visit", {"mens_email": 0.1828, "no_email": 0.1062, "womens_email": 0.1514}),
        ("purchase", {"mens_email": 0.0125, "no_email": 0.0057, "womens_email": 0.0088}),
    ]:
        happened = ids.isin(events.loc[events["event_type"] == event_type, "customer_id"])
        rates = pd.Series(happened, index=ids, dtype=float).groupby(actions).mean()
        assert rates.round(4).to_dict() == published
    spend = events.groupby("customer_id")["value"].sum().reindex(ids, fill_value=0.0)
    mean_spend = spend.groupby(actions).mean().round(3).to_dict()
    assert mean_spend == {"mens_email": 1.423, "no_email": 0.653, "womens_email": 1.077}
    assert (counts["visits"], counts["conversions"]) == (9_394, 578)
    assert (result.tables["actions"]["action_time"] == HILLSTROM_ACTION_TIME).all()
