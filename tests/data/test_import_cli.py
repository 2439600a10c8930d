"""`cxml import ...` then `cxml validate`: each source lands as a valid data dir in one command."""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from cxml.cli import app

runner = CliRunner()

SOURCES = {
    "telco": "telco_customer_churn/Telco-Customer-Churn.csv",
    "hillstrom": "hillstrom_email/hillstrom.csv",
    "online-retail": "online_retail_uci/online_retail.csv.gz",
}


@pytest.mark.parametrize("kind", SOURCES)
def test_real_source_imports_into_a_valid_data_dir(shared_data, tmp_path, kind):
    source = shared_data / SOURCES[kind]
    if not source.exists():
        pytest.skip(f"{source} not found: set CXML_SHARED_DATA to the shared datasets folder")
    out = tmp_path / kind
    imported = runner.invoke(app, ["import", kind, str(source), "--out", str(out)])
    assert imported.exit_code == 0, imported.output
    checked = runner.invoke(app, ["validate", str(out)])
    assert checked.exit_code == 0, checked.output
    assert "valid: the data dir meets the contract" in checked.output


def test_online_retail_guest_rows_are_quarantined_and_counted(shared_data, tmp_path):
    source = shared_data / SOURCES["online-retail"]
    if not source.exists():
        pytest.skip(f"{source} not found: set CXML_SHARED_DATA to the shared datasets folder")
    result = runner.invoke(app, ["import", "online-retail", str(source), "--out", str(tmp_path)])
    assert "guest_rows: 135,080" in result.output
    quarantine = pd.read_csv(tmp_path / "quarantine" / "import.quarantine.csv", dtype=str)
    assert len(quarantine) == 135_080
    assert quarantine["reason"].str.contains("no CustomerID").all()


def test_generic_transaction_log_with_bad_rows(tmp_path):
    source = tmp_path / "tx.csv"
    source.write_text(
        "client,paid_at,amount,card_holder\n"
        "a1,2024-01-03 10:00:00,12.50,Ann Lee\n"
        "a1,2024-02-03 11:00:00,-5.00,Ann Lee\n"  # a refund: imported as a return event
        "b2,not a date,3.00,Bob Roe\n"  # quarantined: unparseable date
        ",2024-02-04 09:00:00,7.00,Nobody\n"  # quarantined: no customer id
        "b2,2024-03-01 09:00:00,abc,Bob Roe\n"  # quarantined: amount is not a number
    )
    out = tmp_path / "out"
    result = runner.invoke(
        app,
        [
            "import",
            "transactions",
            str(source),
            "--out",
            str(out),
            "--customer-col",
            "client",
            "--time-col",
            "paid_at",
            "--amount-col",
            "amount",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "3 source row(s) not imported" in result.output
    events = pd.read_parquet(out / "events.parquet")
    assert sorted(events["event_type"]) == ["purchase", "return"]
    assert "Ann Lee" not in (out / "customers.parquet").read_bytes().decode("latin-1")
    assert runner.invoke(app, ["validate", str(out)]).exit_code == 0


def test_generic_import_names_a_missing_column(tmp_path):
    source = tmp_path / "tx.csv"
    source.write_text("client,when,amount\na,2024-01-01,1\n")
    result = runner.invoke(
        app,
        [
            "import",
            "transactions",
            str(source),
            "--out",
            str(tmp_path / "o"),
            "--customer-col",
            "client",
            "--time-col",
            "paid_at",
            "--amount-col",
            "amount",
        ],
    )
    assert result.exit_code == 2
    assert "paid_at" in result.output and "Traceback" not in result.output
