"""Importers on tiny inline files: each quarantined row says why in a comment next to it."""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd
import pytest

from cxml.data.event_logs import import_transactions
from cxml.data.importers import (
    GUEST_REASON,
    HILLSTROM_ACTION_TIME,
    IMPORTERS,
    MLC_CHURN_COLUMNS,
    MLC_CHURN_CUTOFF,
    TELCO_CUTOFF,
    import_hillstrom,
    import_mlc_churn,
    import_online_retail,
    import_telco,
)
from cxml.data.schema import UTC_TIMESTAMP, check_clean
from cxml.data.sources import ImportResult, SourceError

UTC = "UTC"
#: The importers that read a source file itself (`events` reads a mapping file that names
#: them: tests/unit/test_event_logs.py).
SOURCE_FILE_IMPORTERS = sorted(set(IMPORTERS) - {"events"})


def write(tmp_path: Path, name: str, lines: list[str]) -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def assert_clean(result: ImportResult) -> None:
    for table, frame in result.tables.items():
        check_clean(table, frame)
    assert list(result.quarantine.columns[-3:]) == ["source_file", "source_row", "reason"]
    assert len(result.quarantine) == result.counts["quarantined_rows"]


# --- Telco ----------------------------------------------------------------------------------------

TELCO_HEADER = "customerID,gender,SeniorCitizen,tenure,Contract,MonthlyCharges,TotalCharges,Churn"


def test_telco_customers_labels_and_blank_total_charges(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "telco.csv",
        [
            TELCO_HEADER,
            "A-1,Female,0,2,Month-to-month,50.0,100.0,Yes",
            "B-2,Male,1,0,Two year,20.0, ,No",  # blank TotalCharges: imported as NaN, counted
            "C-3,Male,0,12,One year,30.0,360.0,Maybe",  # quarantined: Churn is not Yes/No
            "A-1,Female,0,2,Month-to-month,50.0,100.0,Yes",  # quarantined: repeats customer A-1
            "D-4,Male,0,1.5,One year,30.0,45.0,No",  # quarantined: tenure is not whole months
        ],
    )
    result = import_telco(path)
    assert_clean(result)
    customers, labels = result.tables["customers"], result.tables["labels"]
    assert customers["customer_id"].tolist() == ["A-1", "B-2"]
    assert "Churn" not in customers.columns  # the label never sits among the attributes
    assert customers["SeniorCitizen"].tolist() == [0, 1]
    assert pd.isna(customers.loc[1, "TotalCharges"])
    assert customers.loc[0, "signup_time"] == pd.Timestamp("2018-08-01", tz=UTC)
    assert customers.loc[1, "signup_time"] == TELCO_CUTOFF
    assert labels["churn"].tolist() == [1.0, 0.0]
    assert (labels["cutoff"] == TELCO_CUTOFF).all()
    assert result.tables["events"].empty
    assert result.counts == {
        "rows_read": 5,
        "customers": 2,
        "churners": 1,
        "total_charges_blank": 1,
        "quarantined_rows": 3,
    }
    q = result.quarantine
    assert q["source_row"].tolist() == [4, 5, 6]
    assert q["reason"].iloc[0] == "column 'Churn' value 'Maybe' is not one of Yes, No"
    assert q["reason"].iloc[1] == "customerID 'A-1' repeats an earlier row"
    assert "whole number of months" in q["reason"].iloc[2]


# --- MLC++ churn (modeldata's mlc_churn) -------------------------------------------------------


def mlc_row(**changes: str) -> str:
    row = dict.fromkeys(MLC_CHURN_COLUMNS, "1")
    row |= {"state": "KS", "area_code": "area_code_415", "total_day_charge": "45.07"}
    row |= {"international_plan": "no", "voice_mail_plan": "yes", "churn": "no"}
    return ",".join((row | changes)[c] for c in MLC_CHURN_COLUMNS)


def test_mlc_churn_customers_labels_and_quarantine(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "mlc_churn.csv",
        [
            ",".join(MLC_CHURN_COLUMNS),
            mlc_row(account_length="128"),
            mlc_row(churn="yes", international_plan="yes"),
            mlc_row(churn="maybe"),  # quarantined: churn is not yes/no
            mlc_row(total_day_calls="2.5"),  # quarantined: a count that is not whole
            mlc_row(total_eve_charge="-1"),  # quarantined: a negative amount
        ],
    )
    result = import_mlc_churn(path)
    assert_clean(result)
    customers, labels = result.tables["customers"], result.tables["labels"]
    assert customers["customer_id"].tolist() == ["M0001", "M0002"]  # line - 1, as R numbers them
    assert "churn" not in customers.columns
    assert customers["account_length"].tolist() == [128, 1]
    assert customers.loc[0, "total_day_charge"] == 45.07
    assert customers["international_plan"].tolist() == ["no", "yes"]
    assert labels["churn"].tolist() == [0.0, 1.0]
    assert (labels["cutoff"] == MLC_CHURN_CUTOFF).all()
    assert result.tables["events"].empty
    assert result.counts == {"rows_read": 5, "customers": 2, "churners": 1, "quarantined_rows": 3}
    q = result.quarantine
    assert q["source_row"].tolist() == [4, 5, 6]
    assert q["reason"].iloc[0] == "column 'churn' value 'maybe' is not one of yes, no"
    assert "'total_day_calls' value '2.5' is not a whole number" in q["reason"].iloc[1]
    assert "'total_eve_charge' value '-1' is negative" in q["reason"].iloc[2]


# --- Online Retail --------------------------------------------------------------------------------

RETAIL_HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"


def retail_file(tmp_path: Path) -> Path:
    return write(
        tmp_path,
        "retail.csv",
        [
            RETAIL_HEADER,
            "536365,85123A,HEART,6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom",
            "536365,71053,LANTERN,2,2010-12-01 08:27:00,3.00,17850.0,United Kingdom",
            "C536379,D,Discount,-1,2010-12-02 09:41:00,27.50,17850.0,United Kingdom",
            "536370,22728,ALARM CLOCK,24,2010-12-01 08:45:00,3.75,12583.0,France",
            "536371,22727,ALARM CLOCK,1,2010-12-03 08:45:00,3.75,12583.0,Germany",
            "536372,22726,ALARM CLOCK,1,2010-12-04 08:45:00,3.75,12583.0,France",
            "536414,22139,,56,2010-12-01 11:52:00,0.0,,United Kingdom",  # guest: no CustomerID
            "C536391,21983,TISSUES,-12,2010-12-01 10:24:00,0.29,,United Kingdom",  # guest return
            "A563185,B,Adjust bad debt,1,2011-08-12 14:50:00,11062.06,,United Kingdom",  # 'A'+guest
            "536373,22725,MUG,1,not a date,3.75,12583.0,France",  # unparseable InvoiceDate
            "536374,22724,MUG,one,2010-12-05 08:00:00,3.75,12583.0,France",  # Quantity not numeric
        ],
    )


def test_online_retail_one_event_per_invoice_and_returns(tmp_path: Path) -> None:
    result = import_online_retail(retail_file(tmp_path))
    assert_clean(result)
    events = result.tables["events"]
    first = events[events["customer_id"] == "17850"]
    assert first["event_type"].tolist() == ["purchase", "return"]
    assert first["value"].tolist() == pytest.approx([6 * 2.55 + 2 * 3.00, 27.50])
    assert first["event_time"].iloc[0] == pd.Timestamp("2010-12-01 08:26", tz=UTC)  # first line
    assert set(events["channel"]) == {"web"}
    assert events["event_time"].dtype == UTC_TIMESTAMP
    customers = result.tables["customers"].set_index("customer_id")["country"]
    assert customers.to_dict() == {"12583": "France", "17850": "United Kingdom"}


def test_online_retail_quarantine_and_counts(tmp_path: Path) -> None:
    result = import_online_retail(retail_file(tmp_path))
    counts = result.counts
    assert counts["rows_read"] == 11
    assert counts["guest_rows"] == 3
    assert counts["bad_debt_rows"] == 1
    assert counts["cancellation_rows"] == 2
    assert counts["guest_cancellation_rows"] == 1
    assert counts["cancellation_rows_imported"] == 1
    assert counts["purchase_rows"] == 5
    assert counts["invoices"] == 4
    assert counts["purchase_customers"] == 2
    assert counts["quarantined_rows"] == 5
    q = result.quarantine.set_index("source_row")["reason"]
    assert q[8] == GUEST_REASON
    assert q[9] == GUEST_REASON
    assert q[10].startswith("bad-debt adjustment ('A' invoice)") and q[10].endswith(GUEST_REASON)
    assert q[11] == "column 'InvoiceDate' value 'not a date' is not a date"
    assert q[12] == "column 'Quantity' value 'one' is not a number"
    assert (result.quarantine["source_file"] == "retail.csv").all()


# --- Hillstrom ------------------------------------------------------------------------------------

HILLSTROM_HEADER = (
    "recency,history_segment,history,mens,womens,zip_code,newbie,channel,segment,"
    "visit,conversion,spend"
)


def test_hillstrom_actions_and_outcomes(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "hillstrom.csv",
        [
            HILLSTROM_HEADER,
            "10,2) $100 - $200,142.44,1,0,Surburban,0,Phone,Womens E-Mail,0,0,0",
            "6,3) $200 - $350,329.08,1,1,Rural,1,Web,No E-Mail,1,0,0",
            "7,2) $100 - $200,180.65,0,1,Surburban,1,Web,Mens E-Mail,1,1,29.99",
            "9,1) $0 - $100,45.00,0,1,Urban,1,Web,Kids E-Mail,0,0,0",  # unknown arm: quarantined
        ],
    )
    result = import_hillstrom(path)
    assert_clean(result)
    customers = result.tables["customers"]
    assert customers["customer_id"].tolist() == ["H00001", "H00002", "H00003"]
    assert "purchase_channel" in customers.columns and "channel" not in customers.columns
    assert "segment" not in customers.columns and "spend" not in customers.columns
    actions = result.tables["actions"]
    assert actions["action"].tolist() == ["womens_email", "no_email", "mens_email"]
    assert (actions["action_time"] == HILLSTROM_ACTION_TIME).all()
    assert actions["propensity"].tolist() == pytest.approx([1 / 3] * 3)
    events = result.tables["events"]
    # each customer's last purchase, `recency` months before the e-mails; then the outcomes
    past = events[events["event_time"] < HILLSTROM_ACTION_TIME]
    assert past[["customer_id", "event_type"]].values.tolist() == [
        ["H00001", "purchase"],
        ["H00002", "purchase"],
        ["H00003", "purchase"],
    ]
    assert past["event_time"].dt.strftime("%Y-%m-%d").tolist() == [
        "2007-05-01",
        "2007-09-01",
        "2007-08-01",
    ]
    assert past["value"].isna().all() and past["channel"].isna().all()
    after = events[events["event_time"] > HILLSTROM_ACTION_TIME]
    assert len(past) + len(after) == len(events)
    assert after[["customer_id", "event_type"]].values.tolist() == [
        ["H00002", "visit"],
        ["H00003", "visit"],
        ["H00003", "purchase"],
    ]
    assert after["value"].iloc[2] == 29.99
    assert (after["event_time"] < HILLSTROM_ACTION_TIME + pd.Timedelta(days=14)).all()
    assert result.counts["arm_mens_email"] == 1 and result.counts["arm_no_email"] == 1
    assert result.counts["visits"] == 2 and result.counts["conversions"] == 1
    assert result.counts["past_purchases"] == 3
    assert result.quarantine["reason"].tolist() == [
        "column 'segment' value 'Kids E-Mail' is not one of Mens E-Mail, Womens E-Mail, No E-Mail"
    ]


def test_hillstrom_recency_must_be_whole_months(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "hillstrom.csv",
        [
            HILLSTROM_HEADER,
            "0,2) $100 - $200,142.44,1,0,Surburban,0,Phone,Womens E-Mail,0,0,0",
            "2.5,2) $100 - $200,142.44,1,0,Surburban,0,Phone,Womens E-Mail,0,0,0",
            "3,2) $100 - $200,142.44,1,0,Surburban,0,Phone,Womens E-Mail,0,0,0",
        ],
    )
    result = import_hillstrom(path)
    assert result.tables["customers"]["customer_id"].tolist() == ["H00003"]
    assert result.quarantine["reason"].tolist() == [
        "column 'recency' value '0' is not a whole number of months >= 1",
        "column 'recency' value '2.5' is not a whole number of months >= 1",
    ]


# --- generic transaction log ----------------------------------------------------------------------


def transactions_file(tmp_path: Path) -> Path:
    return write(
        tmp_path,
        "tx.csv",
        [
            "client,paid_at,amount,note",
            " c1 ,2021-07-01 10:00:00,12.50,first",
            "c1,2021-01-15,-5,refund",
            "c2,2021-07-01T10:00:00+02:00,3,offset given",
            ",2021-07-02 10:00:00,4.00,x",  # quarantined: no customer id
            "c3,31/12/2021,4.00,x",  # quarantined: date format is ambiguous (day first?)
            "c3,2021-12-31,12;50,x",  # quarantined: amount is not a number
        ],
    )


def test_transactions_events_timezone_and_returns(tmp_path: Path) -> None:
    result = import_transactions(
        transactions_file(tmp_path), "client", "paid_at", "amount", "store", "Europe/London"
    )
    assert_clean(result)
    events = result.tables["events"]
    assert events["customer_id"].tolist() == ["c1", "c1", "c2"]
    assert events["event_type"].tolist() == ["return", "purchase", "purchase"]
    assert events["value"].tolist() == [5.0, 12.5, 3.0]
    assert events["event_time"].tolist() == [
        pd.Timestamp("2021-01-15 00:00", tz=UTC),  # GMT in winter
        pd.Timestamp("2021-07-01 09:00", tz=UTC),  # BST in summer
        pd.Timestamp("2021-07-01 08:00", tz=UTC),  # its own +02:00 offset wins
    ]
    assert set(events["channel"]) == {"store"}
    assert result.tables["customers"]["customer_id"].tolist() == ["c1", "c2"]
    assert result.counts["negative_amount_rows"] == 1


def test_transactions_quarantine_names_column_and_value(tmp_path: Path) -> None:
    result = import_transactions(transactions_file(tmp_path), "client", "paid_at", "amount")
    assert result.counts["quarantined_rows"] == 3
    q = result.quarantine
    assert q["source_row"].tolist() == [5, 6, 7]
    assert q["reason"].tolist() == [
        "column 'client' is empty: no customer id",
        "column 'paid_at' value '31/12/2021' is not a date (use YYYY-MM-DD[ HH:MM:SS])",
        "column 'amount' value '12;50' is not a number",
    ]
    assert q["note"].tolist() == ["x", "x", "x"]  # the source columns travel with the row
    assert result.tables["events"]["channel"].isna().all()


def test_transactions_gzip_and_header_only(tmp_path: Path) -> None:
    gz = tmp_path / "tx.csv.gz"
    gz.write_bytes(gzip.compress(b"id,t,v\nc1,2021-01-01,1\n"))
    assert len(import_transactions(gz, "id", "t", "v").tables["events"]) == 1
    header_only = write(tmp_path, "none.csv", ["id,t,v"])
    result = import_transactions(header_only, "id", "t", "v")
    assert_clean(result)
    assert result.tables["events"].empty and result.counts["rows_read"] == 0


def test_transactions_unknown_timezone(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="timezone 'Mars/Olympus' is unknown"):
        import_transactions(
            transactions_file(tmp_path), "client", "paid_at", "amount", None, "Mars/Olympus"
        )


# --- structural faults ----------------------------------------------------------------------------


def test_missing_column_lists_what_the_file_has(tmp_path: Path) -> None:
    path = write(tmp_path, "tx.csv", ["client,when,amount", "c1,2021-01-01,1"])
    with pytest.raises(SourceError) as info:
        import_transactions(path, "client", "paid_at", "amount")
    message = str(info.value)
    assert message.startswith("tx.csv: column 'paid_at' is missing")
    assert "it has: client, when, amount" in message


def test_missing_retail_column_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "online_retail.csv", [RETAIL_HEADER.replace(",InvoiceDate", "")])
    with pytest.raises(SourceError, match=r"online_retail\.csv: column 'InvoiceDate' is missing"):
        import_online_retail(path)


@pytest.mark.parametrize("name", SOURCE_FILE_IMPORTERS)
def test_empty_file(tmp_path: Path, name: str) -> None:
    path = tmp_path / "source.csv"
    path.write_bytes(b"")
    with pytest.raises(SourceError, match=r"source\.csv: the file is empty"):
        IMPORTERS[name](path)


@pytest.mark.parametrize("name", SOURCE_FILE_IMPORTERS)
def test_not_utf8(tmp_path: Path, name: str) -> None:
    path = tmp_path / "source.csv"
    path.write_bytes(b"\xff\xfea,b\n\xe9\xe8,1\n")  # UTF-16 BOM and Latin-1 bytes
    with pytest.raises(
        SourceError, match=r"source\.csv: not UTF-8 text.*re-save the file as UTF-8"
    ):
        IMPORTERS[name](path)


def test_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="file not found"):
        import_telco(tmp_path / "nope.csv")
