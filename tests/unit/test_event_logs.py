"""`cxml import events`: any event log, several sources, each file's own delimiter, dates and
decimal mark. Tiny inline files; each quarantined row says why in a comment next to it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from cxml.cli import app
from cxml.data.event_logs import import_events, parse_mapping, read_mapping, sniff_delimiter
from cxml.data.schema import check_clean
from cxml.data.sources import SourceError

runner = CliRunner()


def write(folder: Path, name: str, lines: list[str]) -> Path:
    path = folder / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def mapping(*sources: dict, **settings: object):
    return parse_mapping({"sources": list(sources), **settings})


def clean(result) -> None:
    for table, frame in result.tables.items():
        check_clean(table, frame)


def test_whitespace_separated_with_compact_dates(tmp_path):
    path = write(
        tmp_path,
        "crm.txt",
        [
            "cust   day       activity   amount",
            "00017  20240105  purchase   12.50",
            "00017  20240212  login      0",
            "00023  20240131  purchase   40",
            "00023  2024-02-01 purchase  5",  # quarantined: not %Y%m%d
        ],
    )
    assert sniff_delimiter(path) == r"\s+"
    cols = {"customer_id": "cust", "event_time": "day", "event_type": "activity"}
    result = import_events(
        mapping(
            {"file": str(path), "columns": {**cols, "value": "amount"}, "time_format": "%Y%m%d"}
        )
    )
    clean(result)
    events = result.tables["events"]
    assert events["customer_id"].tolist() == ["00017", "00017", "00023"]  # ids kept as written
    assert events["event_time"].dt.strftime("%Y-%m-%d").tolist() == [
        "2024-01-05",
        "2024-02-12",
        "2024-01-31",
    ]
    assert events["value"].tolist() == [12.5, 0.0, 40.0]
    assert (events["source"] == "crm").all()
    assert result.quarantine["source_row"].tolist() == [5]
    assert "'2024-02-01' is not a date (%Y%m%d)" in result.quarantine["reason"][0]


def test_semicolons_and_decimal_comma(tmp_path):
    path = write(
        tmp_path,
        "shop.csv",
        [
            "id;time;type;amount",
            "A1;2024-03-01;purchase;1.234,50",
            "A1;2024-03-02;purchase;7,5",
            "A2;2024-03-02;purchase;12.5",  # quarantined: '.' with a decimal comma is not 12,5
        ],
    )
    cols = {"customer_id": "id", "event_time": "time", "event_type": "type", "value": "amount"}
    result = import_events(mapping({"file": str(path), "columns": cols, "decimal": ","}))
    assert result.tables["events"]["value"].tolist() == [1234.5, 7.5]
    assert result.quarantine["source_row"].tolist() == [4]
    assert "decimal mark ','" in result.quarantine["reason"][0]
    assert result.tables["customers"]["customer_id"].tolist() == ["A1"]


def test_two_sources_with_overlapping_customers(tmp_path):
    crm = write(
        tmp_path,
        "crm.csv",
        ["customer,when,what", "7,2024-01-10,purchase", "8,2024-01-11,purchase"],
    )
    tickets = write(
        tmp_path,
        "tickets.tsv",
        ["client\topened\tbody", "7\t2024-01-05\tparcel late again", "9\t2024-02-01\twrong bill"],
    )
    result = import_events(
        mapping(
            {
                "file": str(crm),
                "columns": {"customer_id": "customer", "event_time": "when", "event_type": "what"},
                "channel": "web",
            },
            {
                "file": str(tickets),
                "name": "helpdesk",
                "event_type": "support_ticket",
                "channel": "email",
                "columns": {"customer_id": "client", "event_time": "opened", "text": "body"},
            },
        )
    )
    clean(result)
    events = result.tables["events"]
    assert len(events) == 4 and len(result.quarantine) == 0
    seven = events[events["customer_id"] == "7"]
    assert seven["source"].tolist() == ["helpdesk", "crm"]  # sorted by time across sources
    assert seven["text"].tolist() == ["parcel late again", None]
    assert seven["channel"].tolist() == ["email", "web"]
    customers = result.tables["customers"].set_index("customer_id")["signup_time"]
    assert list(customers.index) == ["7", "8", "9"]
    assert str(customers["7"].date()) == "2024-01-05"  # signup: the first event of any source


def test_zero_padded_ids_are_kept_or_normalised(tmp_path):
    a = write(tmp_path, "a.csv", ["id,t,kind", "00001,2024-01-01,login"])
    b = write(tmp_path, "b.csv", ["id,t,kind", "1,2024-01-02,login"])
    cols = {"customer_id": "id", "event_time": "t", "event_type": "kind"}
    sources = ({"file": str(a), "columns": cols}, {"file": str(b), "columns": cols})
    kept = import_events(mapping(*sources))
    assert kept.tables["customers"]["customer_id"].tolist() == ["00001", "1"]
    assert kept.counts["ids_equal_but_for_leading_zeros"] == 2
    joined = import_events(mapping(*sources, normalise_ids=True))
    assert joined.tables["customers"]["customer_id"].tolist() == ["1"]
    assert joined.tables["events"]["customer_id"].tolist() == ["1", "1"]


def test_customers_file_gives_signup_and_who_is_a_customer(tmp_path):
    events = write(
        tmp_path,
        "log.csv",
        ["id,t,kind", "c1,2024-05-01,login", "c2,2024-05-02,login", "zz,2024-05-03,login"],
    )  # zz: quarantined, not in the customers file
    people = write(tmp_path, "people.csv", ["id,joined", "c1,2023-01-01", "c2,"])
    result = import_events(
        parse_mapping(
            {
                "sources": [
                    {
                        "file": str(events),
                        "columns": {"customer_id": "id", "event_time": "t", "event_type": "kind"},
                    }
                ],
                "customers": {"file": str(people), "customer_id": "id", "signup_time": "joined"},
            }
        )
    )
    clean(result)
    signup = result.tables["customers"].set_index("customer_id")["signup_time"]
    assert str(signup["c1"].date()) == "2023-01-01"
    assert str(signup["c2"].date()) == "2024-05-02"  # none given: its first event
    assert result.quarantine["customer_id"].tolist() == ["zz"]
    assert "not in the customers file" in result.quarantine["reason"][0]
    assert len(result.tables["events"]) + len(result.quarantine) == 3


def test_a_file_no_delimiter_splits_stops_with_the_fix(tmp_path):
    path = write(tmp_path, "odd.csv", ["id,t;kind", "1;2024-01-01;login", "2,x,y,z"])
    with pytest.raises(SourceError, match=r"odd\.csv: cannot tell how the columns are separated"):
        sniff_delimiter(path)


def test_the_type_must_come_from_a_column_or_the_source(tmp_path):
    path = write(tmp_path, "x.csv", ["id,t", "1,2024-01-01"])
    with pytest.raises(SourceError, match=r"x\.csv: give the event type either as a column"):
        import_events(mapping({"file": str(path), "columns": {"customer_id": "id",
                                                              "event_time": "t"}}))  # fmt: skip


def test_mapping_file_and_command(tmp_path):
    write(tmp_path, "crm.csv", ["cid;ts;kind;amount", "0042;2024-01-03;purchase;3,5"])
    write(tmp_path, "survey.csv", ["cid,ts,score,comment", "42,2024-01-20,3,meh"])
    (tmp_path / "map.yaml").write_text(
        """
sources:
  - file: crm.csv
    decimal: ","
    columns: {customer_id: cid, event_time: ts, event_type: kind, value: amount}
  - file: survey.csv
    name: surveys
    event_type: survey_nps
    columns: {customer_id: cid, event_time: ts, value: score, text: comment}
normalise_ids: true
""",
        encoding="utf-8",
    )
    assert read_mapping(tmp_path / "map.yaml").sources[0].file == tmp_path / "crm.csv"
    out = tmp_path / "data"
    done = runner.invoke(app, ["import", "events", "--map", str(tmp_path / "map.yaml"),
                               "--out", str(out)])  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "customers: 1" in done.output and "events: 2" in done.output
    checked = runner.invoke(app, ["validate", str(out)])
    assert checked.exit_code == 0, checked.output
    events = pd.read_parquet(out / "events.parquet")
    assert events["source"].tolist() == ["crm", "surveys"]
    wrong = runner.invoke(app, ["import", "events", str(tmp_path / "other.csv"), "--map",
                                str(tmp_path / "map.yaml"), "--out", str(out)])  # fmt: skip
    assert wrong.exit_code == 2 and "other.csv: not in the mapping" in wrong.output


def test_flags_without_a_mapping(tmp_path):
    path = write(tmp_path, "log.csv", ["who,at,what", "5,2024-02-02,login"])
    out = tmp_path / "data"
    done = runner.invoke(app, ["import", "events", str(path), "--out", str(out),
                               "--customer-col", "who", "--time-col", "at", "--type-col",
                               "what", "--channel", "app"])  # fmt: skip
    assert done.exit_code == 0, done.output
    assert pd.read_parquet(out / "events.parquet")["channel"].tolist() == ["app"]
    bad = runner.invoke(app, ["import", "events", str(path), "--out", str(out)])
    assert bad.exit_code == 2 and "--customer-col and --time-col" in bad.output
    assert "Traceback" not in bad.output
