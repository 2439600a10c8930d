"""Importers of named public data sets: each reads one source file and returns contract tables
plus a quarantine (see `data/sources.py`), every drop counted in `ImportResult.counts`. Any other
event log is read by `data/event_logs.py`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from cxml.data.event_logs import import_event_log
from cxml.data.schema import UTC_TIMESTAMP
from cxml.data.sources import (
    Fault,
    ImportResult,
    bad_value,
    empty_events,
    finish,
    make_events,
    not_a_number,
    not_one_of,
    parse_time,
    read_source,
    reasons,
    sort_events,
)

#: Telco is a snapshot without dates; this fixed cutoff anchors it (IBM calls it a Q3 snapshot).
TELCO_CUTOFF = pd.Timestamp("2018-10-01", tz="UTC")
#: The MLC++ churn data (C50's `churn`, modeldata's `mlc_churn`) has no dates: any fixed cutoff
#: would do; this one anchors its snapshot.
MLC_CHURN_CUTOFF = pd.Timestamp("2000-01-01", tz="UTC")
#: Hillstrom has no dates either; the e-mails are placed here (the challenge ran in March 2008).
HILLSTROM_ACTION_TIME = pd.Timestamp("2008-03-01", tz="UTC")
HILLSTROM_ARMS = {  # the control arm is an action too: logged explicitly
    "Mens E-Mail": "mens_email",
    "Womens E-Mail": "womens_email",
    "No E-Mail": "no_email",
}
MONTHS_AGO = "is not a whole number of months >= 1"
GUEST_REASON = "no CustomerID (guest order): cannot be attributed to a customer"
BAD_DEBT_REASON = "bad-debt adjustment ('A' invoice): bookkeeping, not a customer transaction"

ACTION_COLUMNS = ("customer_id", "action_time", "action", "channel", "cost", "propensity")
TELCO_COLUMNS = ("customerID", "SeniorCitizen", "tenure", "MonthlyCharges", "TotalCharges", "Churn")
MLC_CHURN_COUNTS = (
    "account_length",
    "number_vmail_messages",
    *(f"total_{part}_calls" for part in ("day", "eve", "night", "intl")),
    "number_customer_service_calls",
)
MLC_CHURN_AMOUNTS = tuple(
    f"total_{part}_{measure}"
    for part in ("day", "eve", "night", "intl")
    for measure in ("minutes", "charge")
)
MLC_CHURN_YES_NO = ("international_plan", "voice_mail_plan", "churn")
MLC_CHURN_COLUMNS = ("state", "area_code", *MLC_CHURN_COUNTS, *MLC_CHURN_AMOUNTS, *MLC_CHURN_YES_NO)
RETAIL_COLUMNS: tuple[str, ...] = ("InvoiceNo", "StockCode", "Description", "Quantity")
RETAIL_COLUMNS += ("InvoiceDate", "UnitPrice", "CustomerID", "Country")
HILLSTROM_FEATURES = ("recency", "history_segment", "history", "mens", "womens", "zip_code")
HILLSTROM_OUTCOMES = ("segment", "visit", "conversion", "spend")
HILLSTROM_COLUMNS = (*HILLSTROM_FEATURES, "newbie", "channel", *HILLSTROM_OUTCOMES)


# --- IBM Telco ----------------------------------------------------------------------------------


def import_telco(path: Path) -> ImportResult:
    """Telco snapshot: customers with static attributes and one churn label per customer at
    `TELCO_CUTOFF`. The 11.1.3 status file is not read: its satisfaction score leaks the label."""
    raw = read_source(path, TELCO_COLUMNS)
    tenure, tenure_fault = not_a_number(raw, "tenure")
    monthly, monthly_fault = not_a_number(raw, "MonthlyCharges")
    blank_total = raw["TotalCharges"] == ""
    total, total_fault = not_a_number(raw, "TotalCharges")
    cust = raw["customerID"]
    not_whole = tenure_fault[0] | (tenure < 0) | (tenure % 1 != 0)
    faults: list[Fault] = [
        (cust == "", "column 'customerID' is empty: no customer id"),
        (cust.duplicated() & (cust != ""), "customerID '" + cust + "' repeats an earlier row"),
        bad_value(raw, "tenure", not_whole, "is not a whole number of months"),
        not_one_of(raw, "SeniorCitizen", ("0", "1")),
        monthly_fault,
        (total_fault[0] & ~blank_total, total_fault[1]),
        not_one_of(raw, "Churn", ("Yes", "No")),
    ]
    reason = reasons(raw.index, faults)
    ok = reason == ""
    customers = telco_customers(raw[ok], tenure[ok], monthly[ok], total[ok])
    labels = pd.DataFrame({"customer_id": customers["customer_id"], "cutoff": TELCO_CUTOFF})
    labels["cutoff"] = labels["cutoff"].astype(UTC_TIMESTAMP)
    labels["churn"] = (raw.loc[ok, "Churn"] == "Yes").astype(float).to_numpy()
    counts = {
        "rows_read": len(raw),
        "customers": len(customers),
        "churners": int(labels["churn"].sum()),
        "total_charges_blank": int((blank_total & ok).sum()),
    }
    tables = {"customers": customers, "events": empty_events(), "labels": labels}
    return finish(raw, reason, path, tables, counts)


def telco_customers(
    raw: pd.DataFrame, tenure: pd.Series, monthly: pd.Series, total: pd.Series
) -> pd.DataFrame:
    """Static attributes, typed; signup_time = cutoff − tenure calendar months (deterministic)."""
    months = tenure.astype(int)
    signup = {m: TELCO_CUTOFF - pd.DateOffset(months=int(m)) for m in months.unique()}
    customers = raw.drop(columns=["customerID", "Churn"]).assign(
        SeniorCitizen=raw["SeniorCitizen"].astype(int),
        tenure=months,
        MonthlyCharges=monthly,
        TotalCharges=total,
    )
    customers.insert(0, "customer_id", raw["customerID"])
    customers.insert(1, "signup_time", months.map(signup).astype(UTC_TIMESTAMP))
    return customers.reset_index(drop=True)


# --- MLC++ telecom churn (C50 / modeldata `mlc_churn`) -----------------------------------------


def import_mlc_churn(path: Path) -> ImportResult:
    """The MLC++ churn snapshot (5,000 customers as R's modeldata::mlc_churn has it, written to
    CSV): customers with their plan and usage attributes and one churn label each at
    `MLC_CHURN_CUTOFF`. No ids in the data: customer k (line k + 1) is `M{k:04d}`. No signup time
    either: `account_length`'s unit is not documented, so it stays an attribute."""
    raw = read_source(path, MLC_CHURN_COLUMNS)
    numbers: dict[str, pd.Series] = {}
    faults: list[Fault] = []
    for column in (*MLC_CHURN_COUNTS, *MLC_CHURN_AMOUNTS):
        values, fault = not_a_number(raw, column)
        numbers[column] = values
        faults.append(fault)
        if column in MLC_CHURN_COUNTS:
            bad = ~fault[0] & ((values < 0) | (values % 1 != 0))
            faults.append(bad_value(raw, column, bad, "is not a whole number >= 0"))
        else:
            faults.append(bad_value(raw, column, ~fault[0] & (values < 0), "is negative"))
    for column in ("state", "area_code"):
        faults.append((raw[column] == "", f"column '{column}' is empty"))
    faults += [not_one_of(raw, column, ("yes", "no")) for column in MLC_CHURN_YES_NO]
    reason = reasons(raw.index, faults)
    ok = reason == ""
    ids = "M" + pd.Series(raw.index - 1, index=raw.index).astype(str).str.zfill(4)
    customers = pd.DataFrame({"customer_id": ids[ok]})
    for column in [c for c in raw.columns if c in MLC_CHURN_COLUMNS and c != "churn"]:
        if column in MLC_CHURN_COUNTS:
            customers[column] = numbers[column][ok].astype(int)
        else:
            customers[column] = numbers[column][ok] if column in numbers else raw.loc[ok, column]
    customers = customers.reset_index(drop=True)
    labels = pd.DataFrame({"customer_id": customers["customer_id"], "cutoff": MLC_CHURN_CUTOFF})
    labels["cutoff"] = labels["cutoff"].astype(UTC_TIMESTAMP)
    labels["churn"] = (raw.loc[ok, "churn"] == "yes").astype(float).to_numpy()
    counts = {
        "rows_read": len(raw),
        "customers": len(customers),
        "churners": int(labels["churn"].sum()),
    }
    tables = {"customers": customers, "events": empty_events(), "labels": labels}
    return finish(raw, reason, path, tables, counts)


# --- UCI Online Retail --------------------------------------------------------------------------


def import_online_retail(path: Path) -> ImportResult:
    """Invoice lines to one `purchase` event per (customer, invoice) and one `return` event per
    cancellation ('C') invoice, value = |Σ Quantity × UnitPrice| in GBP, channel web, times as
    UTC. signup_time is left out: the data starts in Dec 2010, so first purchase is not signup."""
    raw = read_source(path, RETAIL_COLUMNS)
    cust = raw["CustomerID"].str.removesuffix(".0")
    invoice = raw["InvoiceNo"]
    time = parse_time(raw["InvoiceDate"])
    qty, qty_fault = not_a_number(raw, "Quantity")
    price, price_fault = not_a_number(raw, "UnitPrice")
    faults: list[Fault] = [
        bad_value(raw, "InvoiceDate", time.isna(), "is not a date"),
        qty_fault,
        price_fault,
        (invoice.str.startswith("A"), BAD_DEBT_REASON),
        (cust == "", GUEST_REASON),
    ]
    reason = reasons(raw.index, faults)
    ok = reason == ""
    lines = pd.DataFrame(
        {"customer_id": cust, "invoice": invoice, "event_time": time, "amount": qty * price}
    )[ok]
    events = retail_events(lines)
    customers = retail_customers(cust[ok], raw.loc[ok, "Country"])
    counts = retail_counts(raw, cust, ok)
    counts.update(
        customers=len(customers),
        events=len(events),
        return_events=int((events["event_type"] == "return").sum()),
    )
    return finish(raw, reason, path, {"customers": customers, "events": events}, counts)


def retail_events(lines: pd.DataFrame) -> pd.DataFrame:
    """One event per (customer, invoice); a 'C' invoice or a negative total is a return."""
    grouped = lines.groupby(["customer_id", "invoice"], sort=False)
    invoices = grouped.agg(event_time=("event_time", "min"), value=("amount", "sum")).reset_index()
    is_return = invoices["invoice"].str.startswith("C") | (invoices["value"] < 0)
    event_type = pd.Series(np.where(is_return, "return", "purchase"))
    value = invoices["value"].abs()
    return make_events(invoices["customer_id"], invoices["event_time"], event_type, "web", value)


def retail_customers(cust: pd.Series, country: pd.Series) -> pd.DataFrame:
    """One row per customer with their most frequent country (ties: alphabetical first)."""
    pairs = pd.DataFrame({"customer_id": cust, "country": country})
    sizes = pairs.value_counts().rename("n").reset_index()
    sizes = sizes.sort_values(["customer_id", "n", "country"], ascending=[True, False, True])
    return sizes.drop_duplicates("customer_id")[["customer_id", "country"]].reset_index(drop=True)


def retail_counts(raw: pd.DataFrame, cust: pd.Series, ok: pd.Series) -> dict[str, int]:
    """The data set's published integrity numbers, recomputed on what was read and imported."""
    cancel = raw["InvoiceNo"].str.startswith("C")
    guest = cust == ""
    kept = ok & ~cancel
    return {
        "rows_read": len(raw),
        "source_customers": int(cust[~guest].nunique()),
        "source_invoices": int(raw["InvoiceNo"].nunique()),
        "guest_rows": int(guest.sum()),
        "bad_debt_rows": int(raw["InvoiceNo"].str.startswith("A").sum()),
        "cancellation_rows": int(cancel.sum()),
        "guest_cancellation_rows": int((cancel & guest).sum()),
        "cancellation_rows_imported": int((cancel & ok).sum()),
        "purchase_rows": int(kept.sum()),
        "purchase_customers": int(cust[kept].nunique()),
        "invoices": int(raw.loc[kept, "InvoiceNo"].nunique()),
    }


# --- Hillstrom e-mail experiment ----------------------------------------------------------------


def import_hillstrom(path: Path) -> ImportResult:
    """The randomised 3-arm e-mail test: pre-treatment customers, one logged action per customer
    (the control arm explicitly, propensity 1/3), and as events each customer's last purchase
    before the e-mails (from `recency`) and the 2-week outcomes."""
    raw = read_source(path, HILLSTROM_COLUMNS)
    numbers = {c: not_a_number(raw, c) for c in ("recency", "history", "mens", "womens", "newbie")}
    spend, spend_fault = not_a_number(raw, "spend")
    recency = numbers["recency"][0]
    months_ago = recency.isna() | (recency < 1) | (recency % 1 != 0)
    numbers["recency"] = (recency, bad_value(raw, "recency", months_ago, MONTHS_AGO))
    faults: list[Fault] = [fault for _, fault in numbers.values()]
    faults += [
        not_one_of(raw, "segment", tuple(HILLSTROM_ARMS)),
        not_one_of(raw, "visit", ("0", "1")),
        not_one_of(raw, "conversion", ("0", "1")),
        spend_fault,
    ]
    reason = reasons(raw.index, faults)
    ok = reason == ""
    clean = raw[ok]
    ids = "H" + pd.Series(raw.index - 1, index=raw.index).astype(str).str.zfill(5)
    customers = hillstrom_customers(clean, ids[ok], {c: v[ok] for c, (v, _) in numbers.items()})
    actions = hillstrom_actions(ids[ok], clean["segment"].map(HILLSTROM_ARMS))
    events = hillstrom_events(
        ids[ok], recency[ok], clean["visit"] == "1", clean["conversion"] == "1", spend[ok]
    )
    counts = {"rows_read": len(raw), "customers": len(customers), "actions": len(actions)}
    for arm in HILLSTROM_ARMS.values():
        counts[f"arm_{arm}"] = int((actions["action"] == arm).sum())
    after = events["event_time"] > HILLSTROM_ACTION_TIME
    counts["past_purchases"] = int((~after).sum())
    counts["visits"] = int((after & (events["event_type"] == "visit")).sum())
    counts["conversions"] = int((after & (events["event_type"] == "purchase")).sum())
    counts["events"] = len(events)
    tables = {"customers": customers, "events": events, "actions": actions}
    return finish(raw, reason, path, tables, counts)


def hillstrom_customers(
    clean: pd.DataFrame, ids: pd.Series, numbers: dict[str, pd.Series]
) -> pd.DataFrame:
    """Pre-treatment attributes only; `channel` becomes `purchase_channel` (not a touchpoint)."""
    customers = pd.DataFrame({"customer_id": ids})
    for column in (*HILLSTROM_FEATURES, "newbie"):
        customers[column] = numbers.get(column, clean[column])
    for column in ("recency", "mens", "womens", "newbie"):
        customers[column] = customers[column].astype(int)
    customers["purchase_channel"] = clean["channel"]
    return customers.reset_index(drop=True)


def hillstrom_actions(ids: pd.Series, action: pd.Series) -> pd.DataFrame:
    """One e-mail decision per customer at `HILLSTROM_ACTION_TIME`, uniform random assignment."""
    actions = pd.DataFrame(
        {
            "customer_id": ids.to_numpy(),
            "action_time": HILLSTROM_ACTION_TIME,
            "action": action.to_numpy(),
            "channel": "email",
            "cost": 0.0,
            "propensity": 1 / 3,
        }
    )
    actions["action_time"] = actions["action_time"].astype(UTC_TIMESTAMP)
    return actions[list(ACTION_COLUMNS)]


def hillstrom_events(
    ids: pd.Series, recency: pd.Series, visit: pd.Series, conversion: pd.Series, spend: pd.Series
) -> pd.DataFrame:
    """Each customer's last purchase before the e-mails, `recency` calendar months before them
    (every customer in the test bought in the 12 months before; its amount and channel are not
    in the data), then the 2-week outcomes: a web visit on day 1, a purchase (value = spend) on
    day 2. Without the past purchase nobody would be a customer yet at the e-mails' time."""
    months = recency.astype(int)
    last = {m: HILLSTROM_ACTION_TIME - pd.DateOffset(months=int(m)) for m in months.unique()}
    past = make_events(ids, months.map(last), "purchase", None)
    day = pd.Timedelta(days=1)
    visits = make_events(ids[visit], HILLSTROM_ACTION_TIME + day, "visit", "web")
    purchases = make_events(
        ids[conversion], HILLSTROM_ACTION_TIME + 2 * day, "purchase", "web", spend[conversion]
    )
    return sort_events(pd.concat([past, visits, purchases], ignore_index=True))


IMPORTERS: dict[str, Callable[[Path], ImportResult]] = {
    "events": import_event_log,  # the source is the mapping file
    "telco": import_telco,
    "online-retail": import_online_retail,
    "hillstrom": import_hillstrom,
}
