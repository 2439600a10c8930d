"""The data contract on tiny inline tables, and a corpus of bad inputs through the real CLI."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from cxml.cli import app
from cxml.data import io
from cxml.data.io import save_csv, save_parquet, write_atomic, write_together
from cxml.data.load import load_data_dir
from cxml.data.schema import ContractError, check_clean
from cxml.data.validate import clean_table

CUSTOMERS = """customer_id,signup_time,name,email,plan
c1,2024-01-05,Ann Lee,ann@example.com,basic
c2,2024-02-01,Bob Roe,bob@example.com,premium
c3,2024-03-01,Cy Poe,cy@example.com,basic
"""
EVENTS = """customer_id,event_time,event_type,channel,value,text
c1,2024-02-01T10:00:00Z,login,app,,
c1,2024-02-03T10:00:00Z,purchase,web,20.5,
c2,2024-02-04T09:00:00Z,survey_nps,email,9,great service
c3,2024-03-05T12:00:00Z,support_ticket,call_centre,,
"""

runner = CliRunner()


def make_dir(tmp_path: Path, customers: str = CUSTOMERS, events: str = EVENTS) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    (data / "customers.csv").write_text(customers)
    (data / "events.csv").write_text(events)
    return data


def run_validate(data: Path):
    return runner.invoke(app, ["validate", str(data)])


def test_valid_dir_passes_and_summarises(tmp_path):
    result = run_validate(make_dir(tmp_path))
    assert result.exit_code == 0, result.output
    assert "customers: 3" in result.output
    assert "login 1" in result.output and "call_centre 1" in result.output
    assert "2024-02-01" in result.output  # date range
    assert "Ann Lee" not in result.output and "ann@example.com" not in result.output


def test_clean_tables_meet_the_pandera_schema(tmp_path):
    loaded = load_data_dir(make_dir(tmp_path))
    check_clean("events", loaded.tables["events"])
    check_clean("customers", loaded.tables["customers"])
    assert str(loaded.tables["events"]["event_time"].dtype) == "datetime64[ns, UTC]"


def test_schema_rejects_a_wrongly_typed_clean_frame():
    frame = pd.DataFrame(
        {"customer_id": ["a"], "event_time": ["not a time"], "event_type": ["login"]}
    )
    with pytest.raises(Exception, match="event_time"):
        check_clean("events", frame)


@pytest.mark.parametrize(
    ("events_text", "column", "problem", "bad_rows"),
    [
        # row 2: 'yesterday' is not a timestamp
        (EVENTS.replace("2024-02-03T10:00:00Z", "yesterday"), "event_time", "not a timestamp", 1),
        # row 2: the amount is text
        (EVENTS.replace("20.5", "abc"), "value", "not a number", 1),
        # row 2: a negative purchase amount
        (EVENTS.replace("20.5", "-3"), "value", "outside 0..1e", 1),
        # row 3: NPS of 11 is outside 0..10
        (EVENTS.replace(",9,", ",11,"), "value", "outside 0..10 for survey_nps", 1),
        # rows 2 and 4: events of customers that customers.csv does not have
        (
            EVENTS.replace("c1,2024-02-03", "zz,2024-02-03").replace("c3,", "c9,"),
            "customer_id",
            "unknown customer",
            2,
        ),
        # row 1: no event type
        (EVENTS.replace(",login,", ",,"), "event_type", "empty", 1),
    ],
)
def test_row_faults_are_quarantined_and_counted(tmp_path, events_text, column, problem, bad_rows):
    data = make_dir(tmp_path, events=events_text)
    result = run_validate(data)
    assert result.exit_code == 2
    assert f"events.csv: column '{column}': {bad_rows} row(s) {problem}" in result.output
    quarantine = pd.read_csv(data / "quarantine" / "events.quarantine.csv")
    assert len(quarantine) == bad_rows
    assert quarantine["reason"].str.contains(problem).all()
    loaded = load_data_dir(data)
    assert len(loaded.tables["events"]) + bad_rows == 4  # nothing dropped silently


def test_duplicate_customers_keep_the_first_and_quarantine_without_pii(tmp_path):
    dup = CUSTOMERS + "c1,2024-05-05,Ann Again,ann2@example.com,basic\n"  # row 4: c1 again
    data = make_dir(tmp_path, customers=dup)
    result = run_validate(data)
    assert result.exit_code == 2
    assert "customers.csv: column 'customer_id': 1 row(s) duplicate customer_id" in result.output
    quarantine = pd.read_csv(data / "quarantine" / "customers.quarantine.csv")
    assert quarantine["source_row"].tolist() == [4]
    assert "name" not in quarantine.columns and "email" not in quarantine.columns
    assert "Ann Again" not in result.output


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: (d / "events.csv").write_text(""), "events.csv: the file is empty"),
        (
            lambda d: (d / "events.csv").write_text(EVENTS.replace("event_time", "when")),
            "required column(s) event_time missing",
        ),
        (
            lambda d: (d / "events.csv").write_bytes(b"customer_id,event_time\n\xff\xfe\x00a,b\n"),
            "not UTF-8",
        ),
        (lambda d: (d / "customers.csv").unlink(), "the required table 'customers' is missing"),
        (lambda d: (d / "events.csv").rename(d / "events.parquet"), "not a readable Parquet"),
    ],
)
def test_structural_faults_stop_with_a_clear_message(tmp_path, mutate, message):
    data = make_dir(tmp_path)
    mutate(data)
    result = run_validate(data)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_extra_event_columns_are_named_and_ignored(tmp_path):
    extra = EVENTS.replace("value,text", "value,text,agent").replace("\n", ",x\n")
    extra = extra.replace("value,text,agent,x", "value,text,agent")
    result = run_validate(make_dir(tmp_path, events=extra))
    assert result.exit_code == 0, result.output
    assert "column(s) agent are not part of the contract and are ignored" in result.output


def test_bad_input_exits_2_without_traceback_as_a_real_process(tmp_path):
    data = make_dir(tmp_path, events="")
    proc = subprocess.run(
        [sys.executable, "-m", "cxml", "validate", str(data)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "the file is empty" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


def test_a_failed_write_leaves_the_previous_output_untouched(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("previous")

    def broken(tmp: Path) -> None:
        tmp.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_atomic(target, broken)
    assert target.read_text() == "previous"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


@pytest.mark.parametrize("umask", [0o022, 0o007])
def test_outputs_are_readable_as_the_umask_allows(tmp_path, umask):
    """A list on a shared drive: teammates in the group open it (no 0600 from mkstemp)."""
    before = os.umask(umask)
    try:
        single = write_atomic(tmp_path / "one.txt", lambda tmp: tmp.write_text("x"))
        folder = tmp_path / "run"
        frame = pd.DataFrame({"a": [1]})
        written = write_together(folder, {"scored.csv": lambda path: save_csv(frame, path)})
    finally:
        os.umask(before)
    for path in [single, *written]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask, path
    assert stat.S_IMODE(folder.stat().st_mode) == 0o777 & ~umask


def test_csv_text_that_a_spreadsheet_would_run_is_neutralised(tmp_path):
    """OWASP's CSV-injection rule in every CSV cxml writes (lists, quarantine files)."""
    ids = ["=cmd|' /C calc'!A0", "+HYPERLINK(1)", "@SUM(1+1)", "-2+3", "\tx", "C0001"]
    frame = pd.DataFrame({"customer_id": ids, "churn_probability": [-0.5, 0, 0, 0, 0, 1]})
    path = write_atomic(tmp_path / "list.csv", lambda tmp: save_csv(frame, tmp))
    back = pd.read_csv(path, dtype={"customer_id": str})
    assert list(back["customer_id"]) == ["'" + i for i in ids[:5]] + ["C0001"]
    assert list(back["churn_probability"]) == [-0.5, 0, 0, 0, 0, 1]  # numbers untouched
    assert frame["customer_id"].tolist() == ids  # the caller's frame is not changed


def test_missing_data_dir_is_a_contract_error(tmp_path):
    with pytest.raises(ContractError, match="no such data folder"):
        load_data_dir(tmp_path / "nope")


def test_columns_whose_values_look_like_personal_data_are_found():
    from cxml.data.validate import pii_kind, pii_lookalikes

    n = 40
    customers = pd.DataFrame(
        {
            "customer_id": [f"C{i}" for i in range(n)],
            "contact": [f"user{i}@example.org" for i in range(n)],
            "mobile": [f"+44 (0)20 7946 {i:04d}" for i in range(n)],
            "pan": ["4111 1111 1111 1111"] * n,  # a test card number: passes the Luhn check
            "plan": ["basic", "premium"] * (n // 2),
            "joined": [f"2024-01-{1 + i % 28:02d}" for i in range(n)],  # dates are not phones
            "ref": [f"{i:016d}" for i in range(n)],  # 16 digits, most failing Luhn: not cards
            "login": [f"u{i}@corp.example" for i in range(n)],  # e-mail-like, declared safe
            "Email": ["a@b.co"] * n,  # declared PII by name already
        }
    )
    found = pii_lookalikes(customers, ("email",), not_pii=("login",))
    assert found == {
        "contact": "e-mail addresses",
        "mobile": "phone numbers",
        "pan": "card numbers",
    }
    for safe in ("plan", "joined", "ref"):
        assert pii_kind(customers[safe]) is None, safe


@pytest.mark.parametrize(
    ("text", "inside"),
    [
        ("1800-03-01T00:00:00Z", False),
        ("1899-12-31T23:59:59Z", False),
        ("1900-01-01T00:00:00Z", True),
        ("2199-12-31T23:59:59Z", True),
        ("2200-01-01T00:00:00Z", False),
        ("2999-12-31T00:00:00Z", False),  # beyond what pandas holds: out of range, not unreadable
    ],
)
def test_batch_and_the_service_share_one_time_range(text, inside):
    from datetime import datetime

    from cxml.serving.checks import time_problem

    raw = pd.DataFrame({"customer_id": ["c1"], "event_time": [text], "event_type": ["login"]})
    batch = clean_table("events", raw, "events.csv")
    online = time_problem(datetime.fromisoformat(text), ["event_time"])
    assert (len(batch.clean) == 1) is inside is (online is None)
    if not inside:
        assert "outside 1900..2200" in batch.quarantine["reason"].iloc[0]


def _objects(frame: pd.DataFrame) -> pd.DataFrame:
    """Each value as an object, a missing one as None (a categorical's is NaN)."""
    return frame.astype(object).where(frame.notna(), None)


def test_parquet_text_columns_read_as_categoricals_check_as_csv_does(tmp_path):
    """A long table's ids, types, channels and comments come from Parquet as categoricals (each
    text held once); they are stripped and checked as the CSV's text is, with the same rows
    kept (a missing comment is missing either way)."""
    events = (
        EVENTS.replace("c1,2024-02-03", " c1 ,2024-02-03")
        .replace(",web,", ",web  ,")
        .replace("c3,2024-03-05", ",2024-03-05")
    )
    data = make_dir(tmp_path, events=events)
    from_csv = load_data_dir(data, check=False)
    raw = pd.read_csv(data / "events.csv", dtype=str, keep_default_na=False, na_values=[""])
    (data / "events.csv").unlink()
    raw.to_parquet(data / "events.parquet")  # plain text columns, as another tool writes them
    people = pd.read_csv(data / "customers.csv", dtype=str).assign(spend=[1.0, 2.0, 3.0])
    (data / "customers.csv").unlink()
    people.to_parquet(data / "customers.parquet")
    from_parquet = load_data_dir(data, check=False)
    clean = from_parquet.tables["events"]
    for column in ("customer_id", "event_type", "channel", "text"):
        assert isinstance(clean[column].dtype, pd.CategoricalDtype)
    assert clean["customer_id"].tolist() == ["c1", "c1", "c2"]  # " c1 " is c1
    assert clean["channel"].tolist() == ["app", "web", "email"]
    expected = from_csv.tables["events"].astype({"value": float})
    pd.testing.assert_frame_equal(_objects(clean), _objects(expected))
    assert from_parquet.quarantined_rows == from_csv.quarantined_rows == 1  # the empty id
    check_clean("events", clean)
    # the columns are the frame's own, never Arrow's read-only buffers: later steps write into
    # copies of them
    assert from_parquet.tables["customers"]["spend"].to_numpy().flags.writeable


def test_a_long_tables_categoricals_hold_per_row_group_only_their_own_values(tmp_path, monkeypatch):
    """pyarrow stores a categorical's whole dictionary in every row group (a million customers'
    events: all the ids 57 times, decoded on every read). Each row group's holds the values its
    rows have; the frame reads back with the same values and categories in the same order."""
    monkeypatch.setattr(io, "ROW_GROUP_ROWS", 4)
    ids = [f"c{i // 2}" for i in range(10)]
    ids[5] = None  # a missing id stays missing
    frame = pd.DataFrame(
        {
            "customer_id": pd.Categorical(ids, categories=[f"c{i}" for i in range(9)]),
            "event_type": pd.Categorical(["login", "purchase"] * 5, ["purchase", "login"]),
            "value": np.arange(10.0),
        }
    )
    save_parquet(frame, tmp_path / "events.parquet")
    file = pq.ParquetFile(tmp_path / "events.parquet")
    held = [
        file.read_row_group(i, columns=["customer_id"]).column(0).chunk(0).dictionary.to_pylist()
        for i in range(file.num_row_groups)
    ]
    assert held == [["c0", "c1"], ["c2", "c3"], ["c4"]]
    back = pd.read_parquet(tmp_path / "events.parquet")
    assert back["customer_id"].tolist() == frame["customer_id"].tolist()
    assert list(back["customer_id"].cat.categories) == ["c0", "c1", "c2", "c3", "c4"]
    assert list(back["event_type"].cat.categories) == ["purchase", "login"]
    pd.testing.assert_frame_equal(_objects(back), _objects(frame))


def test_parquet_stored_index_is_not_a_column(tmp_path):
    """A frame saved with its index (pandas writes it as a column of its own) is read as its
    columns only: the rows' old numbers never become a profile attribute of the customers."""
    data = make_dir(tmp_path)
    people = pd.read_csv(data / "customers.csv", dtype=str)
    (data / "customers.csv").unlink()
    people.index = pd.Index([10, 20, 30], name="row")
    people.to_parquet(data / "customers.parquet")
    loaded = load_data_dir(data, check=False)
    kept = [c for c in people.columns if c not in ("name", "email")]  # PII is not read
    assert list(loaded.tables["customers"].columns) == kept
    assert loaded.tables["customers"]["customer_id"].tolist() == people["customer_id"].tolist()


def test_parquet_column_named_twice_is_a_clear_error(tmp_path):
    """Parquet can hold two columns of one name (CSV's reader renames the second): which one
    is meant cannot be guessed, so the read stops and names the column."""
    data = make_dir(tmp_path)
    (data / "events.csv").unlink()
    table = pa.Table.from_arrays(
        [
            pa.array(["c1"]),
            pa.array(["2024-02-01T00:00:00Z"]),
            pa.array(["login"]),
            pa.array(["x"]),
        ],
        names=["customer_id", "event_time", "event_type", "event_type"],
    )
    pq.write_table(table, data / "events.parquet")
    with pytest.raises(ContractError, match=r"events.parquet: column\(s\) event_type appear more"):
        load_data_dir(data, check=False)


def test_clean_text_is_checked_without_a_copy_and_padded_text_stripped():
    """Millions of rows of text already clean (the usual case) pass through the checks as they
    are; a column with a padded value is stripped, its missing values kept missing (None, from
    CSV's NaN too)."""
    raw = pd.DataFrame(
        {
            "customer_id": ["c1", "c2", "c3"],
            "event_time": ["2024-01-01T00:00:00Z"] * 3,
            "event_type": ["login"] * 3,
            "channel": pd.Categorical(["web", "app", None]),
            "text": pd.Series(["a", None, "b"], dtype=object),
        }
    )
    result = clean_table("events", raw, "events.csv").clean
    assert np.shares_memory(result["text"].to_numpy(), raw["text"].to_numpy())
    codes = result["channel"].cat.codes.to_numpy()
    assert np.shares_memory(codes, raw["channel"].cat.codes.to_numpy())
    padded = raw.assign(text=[" a", None, "b "], channel=["web "] * 3)
    stripped = clean_table("events", padded, "events.csv").clean
    assert stripped["text"].tolist() == ["a", None, "b"]
    assert stripped["channel"].tolist() == ["web"] * 3
    from_csv = clean_table("events", raw.assign(text=["a", np.nan, "b"]), "events.csv").clean
    assert from_csv["text"].tolist() == ["a", None, "b"]  # missing as None, as from Parquet


def test_a_job_reads_only_its_tables_and_leaves_no_other_runs_quarantine(tmp_path):
    """A job that reads some tables (`cxml features`: no actions log) neither reads nor
    reports the others, and an earlier run's quarantine file of a table it did not read goes,
    so the folder never shows rows of another run."""
    data = make_dir(tmp_path)
    (data / "actions.csv").write_text("not,an,actions,log\n1,2,3,4\n")  # it would stop a read
    loaded = load_data_dir(data, check=False, tables=("customers", "events"))
    assert set(loaded.results) == {"customers", "events"}
    folder = tmp_path / "quarantine"
    folder.mkdir()
    (folder / "actions.quarantine.csv").write_text("source_row,reason\n1,old\n")
    loaded.write_quarantine(folder)
    assert not (folder / "actions.quarantine.csv").exists()


@pytest.mark.parametrize("form", ["csv", "parquet"])
def test_a_data_dirs_pii_columns_are_never_held_but_the_contracts_are(tmp_path, form):
    data = make_dir(tmp_path)
    customers = pd.read_csv(data / "customers.csv").rename(columns={"email": " E-Mail "})
    (data / "customers.csv").unlink()
    if form == "csv":
        customers.to_csv(data / "customers.csv", index=False)
    else:
        customers.to_parquet(data / "customers.parquet", index=False)
    # a PII list that names a contract column: the contract's column is still read
    loaded = load_data_dir(data, pii_columns=("name", "email", "signup_time"))
    held = loaded.tables["customers"]
    assert list(held.columns) == ["customer_id", "signup_time", "plan"]
    assert len(held) == 3 and held["plan"].tolist() == ["basic", "premium", "basic"]
    everything = load_data_dir(data, pii_columns=()).tables["customers"]
    email = "E-Mail" if form == "csv" else " E-Mail "  # CSV headers are read stripped
    assert {"name", email} <= set(everything.columns)
