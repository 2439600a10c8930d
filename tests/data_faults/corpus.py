"""A corpus of broken data dirs, each built by code from one small valid dir (nothing binary is
committed): structural faults, which must stop a run with one line naming the file and the fix,
and row faults, which must be quarantined and counted. `test_corpus.py` runs every case through
every command that reads a data dir.

The base dir is the simulator's output written as CSV (`customers.csv`, `events.csv`,
`actions.csv`). A case copies it and breaks it; it states what a run must do: stop (`Stop`), or
go on with how many rows of each file quarantined. Those counts are the case's own arithmetic on
the base tables (a customer's row set aside takes their events and actions with it), never read
back from cxml.
"""

from __future__ import annotations

import csv
import gzip
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from cxml.jobs.ingest import run_simulate

CUSTOMERS = 300
SEED = 5
VICTIM = "C0000005"  # a customer with events and actions: some cases break their row
TABLES = ("customers", "events", "actions")
PII = ("name", "email", "national_id")  # the corpus config's PII columns (national_id added)


@dataclass
class Base:
    """The valid dir and its tables as text (what the CSV files hold) and as typed frames."""

    dir: Path
    text: dict[str, pd.DataFrame]
    typed: dict[str, pd.DataFrame]

    def rows_of(self, table: str, customer_id: str) -> int:
        return int((self.text[table]["customer_id"] == customer_id).sum())

    def set_aside(self, customer_id: str = VICTIM) -> dict[str, int]:
        """A customer's row quarantined: their events and actions go with it."""
        return {
            "customers.csv": 1,
            "events.csv": self.rows_of("events", customer_id),
            "actions.csv": self.rows_of("actions", customer_id),
        }


def make_base(folder: Path) -> Base:
    sim = folder / "sim"
    run_simulate(sim, customers=CUSTOMERS, seed=SEED)
    base = folder / "base"
    base.mkdir()
    typed = {t: pd.read_parquet(sim / f"{t}.parquet") for t in TABLES}
    for table, frame in typed.items():
        frame.to_csv(base / f"{table}.csv", index=False)
    text = {t: _text(base / f"{t}.csv") for t in TABLES}
    return Base(base, text, typed)


def _text(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def rows_in(path: Path) -> int:
    """Data rows of a table file, counted without cxml: CSV records (blank lines are none)
    after the header, or a Parquet file's rows."""
    if path.suffix == ".parquet":
        return pq.ParquetFile(path).metadata.num_rows
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", newline="") as handle:  # type: ignore[operator]
        return sum(1 for record in csv.reader(handle) if record) - 1


Make = Callable[[Path, Base], None]


@dataclass(frozen=True)
class Stop:
    """The run cannot go on: its one error line names `file` and says `fix`."""

    file: str
    fix: str


@dataclass(frozen=True)
class Case:
    name: str
    make: Make
    stop: Stop | None = None
    #: rows quarantined per file (the others: none)
    quarantined: Callable[[Base], dict[str, int]] = lambda base: {}
    #: the case's config's data.limits: the stop comes from them, so a reader on the default
    #: limits (the service's history, import) reads the dir whole
    limits: dict[str, int] = field(default_factory=dict)
    #: `cxml import transactions` of the events file: None (it does not apply), "ok", or the
    #: Stop it must end with
    imports: Stop | str | None = None
    #: the data is usable but no model can learn from what is left: train's Stop
    untrainable: Stop | None = None
    #: the data is usable but not by the model trained on the base dir: score's Stop
    unscorable: Stop | None = None
    #: whether VICTIM's customers row is among the quarantined (no list may hold them)
    victim_out: bool = False


def one(file: str) -> Callable[[Base], dict[str, int]]:
    """One row of `file` quarantined."""
    return lambda base: {file: 1}


# --- ways to break a copy of the base dir ---------------------------------------------------------


def edit(table: str, row: int, column: str, value: str) -> Make:
    """One cell of a table's CSV set to `value` (text, as a broken export would hold)."""

    def make(folder: Path, base: Base) -> None:
        frame = base.text[table].copy()
        frame.loc[row, column] = value
        frame.to_csv(folder / f"{table}.csv", index=False)

    return make


def event_row(base: Base, event_type: str) -> int:
    """The first events row of a type (a purchase for amounts, a login for text)."""
    return int(np.flatnonzero(base.text["events"]["event_type"] == event_type)[0])


def edit_event(event_type: str, column: str, value: str) -> Make:
    def make(folder: Path, base: Base) -> None:
        edit("events", event_row(base, event_type), column, value)(folder, base)

    return make


def victim_row(base: Base) -> int:
    return int(np.flatnonzero(base.text["customers"]["customer_id"] == VICTIM)[0])


def edit_victim(column: str, value: str) -> Make:
    def make(folder: Path, base: Base) -> None:
        edit("customers", victim_row(base), column, value)(folder, base)

    return make


def frame_edit(table: str, change: Callable[[pd.DataFrame], pd.DataFrame]) -> Make:
    def make(folder: Path, base: Base) -> None:
        change(base.text[table].copy()).to_csv(folder / f"{table}.csv", index=False)

    return make


def raw_edit(name: str, change: Callable[[bytes], bytes]) -> Make:
    def make(folder: Path, base: Base) -> None:
        path = folder / name
        path.write_bytes(change(path.read_bytes()))

    return make


def remove(name: str) -> Make:
    return lambda folder, base: (folder / name).unlink()


def gzipped(change: Callable[[bytes], bytes] = lambda data: data, extra: bytes = b"") -> Make:
    """events.csv as events.csv.gz; `extra` appended to the CSV text, `change` applied to the
    compressed bytes."""

    def make(folder: Path, base: Base) -> None:
        plain = folder / "events.csv"
        data = gzip.compress(plain.read_bytes() + extra, compresslevel=6, mtime=0)
        (folder / "events.csv.gz").write_bytes(change(data))
        plain.unlink()

    return make


def then(*makes: Make) -> Make:
    def make(folder: Path, base: Base) -> None:
        for step in makes:
            step(folder, base)

    return make


def events_parquet(change: Callable[[pd.DataFrame], pd.DataFrame]) -> Make:
    """events.csv as events.parquet, typed as the simulator wrote it, then changed."""

    def make(folder: Path, base: Base) -> None:
        (folder / "events.csv").unlink()
        change(base.typed["events"].copy()).to_parquet(folder / "events.parquet")

    return make


def customers_parquet(change: Callable[[pd.DataFrame], pd.DataFrame]) -> Make:
    def make(folder: Path, base: Base) -> None:
        (folder / "customers.csv").unlink()
        change(base.typed["customers"].copy()).to_parquet(folder / "customers.parquet")

    return make


def _victim_inf(frame: pd.DataFrame) -> pd.DataFrame:
    frame.loc[frame["customer_id"] == VICTIM, "monthly_charge"] = float("inf")
    return frame


def _parquet_victim_out(base: Base) -> dict[str, int]:
    """The victim's row of customers.parquet quarantined, and so their events and actions."""
    return {
        "customers.parquet": 1,
        "events.csv": base.rows_of("events", VICTIM),
        "actions.csv": base.rows_of("actions", VICTIM),
    }


def _victim_nul_category(frame: pd.DataFrame) -> pd.DataFrame:
    """plan stored as a categorical (as pandas writes one), the victim's with a NUL byte."""
    plan = frame["plan"].astype(object)
    plan[frame["customer_id"] == VICTIM] = "bas\x00ic"
    return frame.assign(plan=plan.astype("category"))


def _value_as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """The value column stored as text (as a careless export types it), one of them 'abc'."""
    values = [None if pd.isna(v) else repr(float(v)) for v in frame["value"]]
    values[event_row_typed(frame, "purchase")] = "abc"
    return frame.assign(value=pd.Series(values, dtype=object))


def _number_as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """monthly_charge stored as text (the model reads it as numbers), one value not a number."""
    values = [repr(float(v)) for v in frame["monthly_charge"]]
    values[int(np.flatnonzero(frame["customer_id"] == VICTIM)[0])] = "abc"
    return frame.assign(monthly_charge=pd.Series(values, dtype=object))


def event_row_typed(frame: pd.DataFrame, event_type: str) -> int:
    return int(np.flatnonzero(frame["event_type"].astype(str) == event_type)[0])


def _far_future_parquet(folder: Path, base: Base) -> None:
    """events.parquet whose event_time is microseconds (as Spark and Arrow write), one in 2999:
    a time pandas' nanoseconds cannot hold."""
    (folder / "events.csv").unlink()
    events = base.typed["events"]
    times = [t.to_pydatetime() for t in events["event_time"].dt.tz_convert("UTC")]
    times[0] = times[0].replace(year=2999)
    table = pa.Table.from_pandas(events.drop(columns="event_time"), preserve_index=False)
    table = table.append_column("event_time", pa.array(times, pa.timestamp("us", tz="UTC")))
    pq.write_table(table, folder / "events.parquet")


def _labels(rows: list[tuple[str, str, str]]) -> Make:
    def make(folder: Path, base: Base) -> None:
        frame = pd.DataFrame(rows, columns=["customer_id", "cutoff", "churn"])
        frame.to_csv(folder / "labels.csv", index=False)

    return make


def _attributes(rows: list[tuple[str, str, str, str]]) -> Make:
    def make(folder: Path, base: Base) -> None:
        frame = pd.DataFrame(rows, columns=["customer_id", "attribute", "value", "valid_from"])
        frame.to_csv(folder / "attributes.csv", index=False)

    return make


def _national_id(frame: pd.DataFrame) -> pd.DataFrame:
    """A config-declared PII column, and one repeated customer so a row is quarantined."""
    frame["national_id"] = [f"NI-{i:06d}-SECRET" for i in range(len(frame))]
    return pd.concat([frame, frame.iloc[[3]]], ignore_index=True)


def _bom(data: bytes) -> bytes:
    return b"\xef\xbb\xbf" + data


def _crlf(data: bytes) -> bytes:
    return data.replace(b"\n", b"\r\n")


def _latin1(data: bytes) -> bytes:
    head, rest = data.split(b"\n", 1)
    return head + b"\n" + rest.replace(b"north", "nörth".encode("latin-1"), 1)


def _flip(at: Callable[[bytes], int]) -> Callable[[bytes], bytes]:
    """64 bytes inverted from `at(data)` on: damage a copy or a download might do."""

    def change(data: bytes) -> bytes:
        start = at(data)
        return data[:start] + bytes(b ^ 0xFF for b in data[start : start + 64]) + data[start + 64 :]

    return change


def _ragged(data: bytes) -> bytes:
    lines = data.split(b"\n")
    lines[5] += b",extra,fields"
    return b"\n".join(lines)


def _unclosed_quote(data: bytes) -> bytes:
    assert b",login," in data
    return data.replace(b",login,", b',"login,', 1)


def _noise(data: bytes) -> bytes:
    return np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes()


# Small limits for the cases that test them (the defaults are far larger).
BOMB_BYTES = 4_000_000
MAX_ROWS = 1_000

STOP_GZ = Stop("events.csv.gz", "compress the CSV again")
PARSE = "check the export"


def cases() -> list[Case]:
    c = "customers.csv"
    e = "events.csv"
    a = "actions.csv"
    return [
        # --- structural: the run cannot go on ---------------------------------------------------
        Case("customers_missing", remove(c), Stop("'customers' is missing", "add customers")),
        Case("events_missing", remove(e), Stop("'events' is missing", "add events")),
        Case("customers_empty_file", raw_edit(c, lambda d: b""), Stop(c, "export the table")),
        Case(
            "customers_header_only",
            raw_edit(c, lambda d: d.split(b"\n", 1)[0] + b"\n"),
            Stop(c, "export the table with its rows"),
        ),
        Case(
            "customers_no_id_column",
            frame_edit("customers", lambda f: f.drop(columns="customer_id")),
            Stop(c, "rename or add"),
        ),
        Case(
            "events_no_time_column",
            frame_edit("events", lambda f: f.drop(columns="event_time")),
            Stop(e, "rename or add"),
            imports=Stop(e, "column 'event_time' is missing"),
        ),
        Case(  # the deflate stream broken at its start: zlib.error
            "events_gz_corrupt", gzipped(_flip(lambda d: 10)), STOP_GZ, imports=STOP_GZ
        ),
        Case(  # broken in the middle: the text read before the damage does not parse
            "events_gz_damaged_middle",
            gzipped(_flip(lambda d: len(d) // 2)),
            Stop("events.csv.gz", PARSE),
            imports=Stop("events.csv.gz", PARSE),
        ),
        Case(
            "events_gz_truncated",
            gzipped(lambda d: d[: len(d) // 2]),
            STOP_GZ,
            imports=STOP_GZ,
        ),
        Case(
            "events_gz_not_gzip", gzipped(lambda d: b"PK\x03\x04" + d[4:]), STOP_GZ, imports=STOP_GZ
        ),
        Case("customers_not_utf8", raw_edit(c, _latin1), Stop(c, "re-save the file as UTF-8")),
        Case(
            "events_random_bytes",
            raw_edit(e, _noise),
            Stop(e, "re-save the file as UTF-8"),
            imports=Stop(e, "re-save the file as UTF-8"),
        ),
        Case(
            "events_parquet_corrupt",
            then(remove(e), lambda f, b: (f / "events.parquet").write_bytes(b"PAR1" + b"x" * 99)),
            Stop("events.parquet", "re-export it"),
        ),
        Case(
            "events_gzip_bomb",  # a few KB that decompress past the limit (blank lines after)
            gzipped(extra=b"\n" * (BOMB_BYTES * 2)),
            Stop("events.csv.gz", "data.limits.max_file_bytes"),
            limits={"max_file_bytes": BOMB_BYTES},
            imports="ok",
        ),
        Case(
            "events_too_many_rows",
            lambda f, b: None,
            Stop(e, "data.limits.max_rows"),
            limits={"max_rows": MAX_ROWS},
            imports="ok",
        ),
        Case(
            "customers_in_two_formats",
            lambda f, b: b.typed["customers"].to_parquet(f / "customers.parquet"),
            Stop("customers.parquet and customers.csv", "keep one"),
        ),
        Case(
            "customers_giant_header",  # one header cell of 2 MB, no customer_id
            raw_edit(c, lambda d: b"x" * 2_000_000 + b"\n" + d.split(b"\n", 1)[1]),
            Stop(c, "rename or add"),
        ),
        Case("events_ragged_row", raw_edit(e, _ragged), Stop(e, PARSE), imports=Stop(e, PARSE)),
        Case(  # the lines up to the next quote become one record, its event_type many lines
            "events_unclosed_quote",
            raw_edit(e, _unclosed_quote),
            quarantined=one(e),
            imports="ok",
        ),
        Case(
            "events_all_times_unreadable",
            frame_edit("events", lambda f: f.assign(event_time="yesterday")),
            Stop(e, "fix the file at the source"),
            imports=Stop(e, "no row"),
        ),
        Case(
            "customers_all_ids_empty",
            frame_edit("customers", lambda f: f.assign(customer_id="")),
            Stop(c, "fix the file at the source"),
        ),
        Case(
            "events_parquet_epoch_times",  # event_time as integers: no time at all
            events_parquet(lambda f: f.assign(event_time=f["event_time"].astype("int64"))),
            Stop("events.parquet", "fix the file at the source"),
        ),
        # --- customers rows: quarantined with their events and actions ------------------------
        Case(
            "customers_duplicate_id",
            frame_edit("customers", lambda f: pd.concat([f, f.iloc[[3]]], ignore_index=True)),
            quarantined=one(c),
        ),
        Case(
            "customers_empty_id",  # the id is gone, so their events are of an unknown customer
            edit_victim("customer_id", " "),
            quarantined=lambda b: b.set_aside(),
            victim_out=True,
        ),
        Case(
            "customers_signup_unreadable",
            edit_victim("signup_time", "last spring"),
            quarantined=lambda b: b.set_aside(),
            victim_out=True,
        ),
        Case(
            "customers_signup_1800",
            edit_victim("signup_time", "1800-03-01"),
            quarantined=lambda b: b.set_aside(),
            victim_out=True,
        ),
        Case(
            "customers_signup_2999",
            edit_victim("signup_time", "2999-12-31T00:00:00Z"),
            quarantined=lambda b: b.set_aside(),
            victim_out=True,
        ),
        Case(
            "customers_number_is_text",
            edit_victim("monthly_charge", "abc"),
            quarantined=lambda b: b.set_aside(),
            victim_out=True,
        ),
        Case(
            "customers_number_inf",
            edit_victim("monthly_charge", "inf"),
            quarantined=lambda b: b.set_aside(),
            victim_out=True,
        ),
        Case(
            "customers_number_1e308",
            edit_victim("monthly_charge", "1e308"),
            quarantined=lambda b: b.set_aside(),
            victim_out=True,
        ),
        Case(
            "customers_nul_in_text",
            edit_victim("plan", "bas\x00ic"),
            quarantined=lambda b: b.set_aside(),
            victim_out=True,
        ),
        Case(
            "customers_config_pii_column",
            frame_edit("customers", _national_id),
            quarantined=one(c),
        ),
        Case(
            "customers_parquet_inf",
            customers_parquet(_victim_inf),
            victim_out=True,
            quarantined=_parquet_victim_out,
        ),
        Case(  # a categorical's texts are checked as a text column's are
            "customers_parquet_nul_in_category",
            customers_parquet(_victim_nul_category),
            victim_out=True,
            quarantined=_parquet_victim_out,
        ),
        Case(  # Parquet keeps it text: valid data, but not for a model that reads numbers
            "customers_parquet_number_as_text",
            customers_parquet(_number_as_text),
            unscorable=Stop("customers.parquet: column 'monthly_charge'", "retrain on this data"),
        ),
        Case("customers_bom", raw_edit(c, _bom)),
        Case("customers_crlf", raw_edit(c, _crlf)),
        Case(
            "customers_header_spaces",
            raw_edit(c, lambda d: d.replace(b"customer_id,", b" customer_id ,", 1)),
        ),
        # --- events rows --------------------------------------------------------------------------
        Case(
            "events_unknown_customer",
            edit("events", 0, "customer_id", "C9999999"),
            quarantined=one(e),
            imports="ok",
        ),
        Case(
            "events_empty_customer",
            edit("events", 0, "customer_id", ""),
            quarantined=one(e),
            imports="ok",
        ),
        Case(
            "events_nul_in_customer",
            edit("events", 0, "customer_id", "C000\x000000"),
            quarantined=one(e),
            imports=Stop(e, "NUL byte"),
        ),
        Case(
            "events_time_unreadable",
            edit("events", 1, "event_time", "not a date"),
            quarantined=one(e),
            imports="ok",
        ),
        Case(
            "events_time_clock_only",
            edit("events", 1, "event_time", "12:00"),
            quarantined=one(e),
            imports="ok",
        ),
        Case(
            "events_time_day_or_month",
            edit("events", 1, "event_time", "05/06/2024"),
            quarantined=one(e),
            imports="ok",
        ),
        Case(
            "events_time_1800",
            edit("events", 1, "event_time", "1800-01-24 08:47:38+00:00"),
            quarantined=one(e),
            imports="ok",
        ),
        Case(
            "events_time_2999",
            edit("events", 1, "event_time", "2999-01-24 08:47:38+00:00"),
            quarantined=one(e),
            imports="ok",
        ),
        Case(
            "events_time_year_1",
            edit("events", 1, "event_time", "0001-01-01T00:00:00"),
            quarantined=one(e),
            imports="ok",
        ),
        Case(
            "events_empty_type",
            edit_event("login", "event_type", ""),
            quarantined=one(e),
            imports="ok",
        ),
        Case(
            "events_nul_in_type",
            edit_event("login", "event_type", "lo\x00gin"),
            quarantined=one(e),
            imports=Stop(e, "NUL byte"),
        ),
        Case(
            "events_value_text",
            edit_event("purchase", "value", "abc"),
            quarantined=one(e),
            imports="ok",
        ),
        Case(
            "events_value_nan_text",
            edit_event("purchase", "value", "NaN"),
            quarantined=one(e),
            imports="ok",
        ),
        Case(
            "events_value_inf",
            edit_event("purchase", "value", "inf"),
            quarantined=one(e),
            imports="ok",
        ),
        Case(
            "events_value_minus_inf",
            edit_event("login", "value", "-inf"),
            quarantined=one(e),
            imports="ok",
        ),
        Case(
            "events_value_1e308",
            edit_event("purchase", "value", "1e308"),
            quarantined=one(e),
            imports="ok",
        ),
        Case(
            "events_value_negative_purchase",
            edit_event("purchase", "value", "-5"),
            quarantined=one(e),
            imports="ok",
        ),
        Case(
            "events_nps_above_10",
            edit_event("survey_nps", "value", "11"),
            quarantined=one(e),
            imports="ok",
        ),
        Case(
            "events_gz_one_bad_row",
            then(edit_event("purchase", "value", "abc"), gzipped()),
            quarantined=one("events.csv.gz"),
            imports="ok",
        ),
        Case(
            "events_parquet_value_text",
            events_parquet(_value_as_text),
            quarantined=one("events.parquet"),
        ),
        Case(
            "events_parquet_far_future",
            _far_future_parquet,
            quarantined=one("events.parquet"),
        ),
        Case(
            "events_header_only",  # the contract allows it: but no model learns from no events
            raw_edit(e, lambda d: d.split(b"\n", 1)[0] + b"\n"),
            imports=Stop(e, "no row"),
            untrainable=Stop("labelled rows of one class only", "add cutoffs or customers"),
        ),
        # --- actions, labels and attributes rows ----------------------------------------------
        Case(
            "actions_propensity_above_1",
            edit("actions", 0, "propensity", "1.5"),
            quarantined=one(a),
        ),
        Case("actions_negative_cost", edit("actions", 0, "cost", "-15"), quarantined=one(a)),
        Case(
            "actions_time_unreadable", edit("actions", 0, "action_time", "soon"), quarantined=one(a)
        ),
        Case(
            "actions_unknown_customer",
            edit("actions", 0, "customer_id", "C9999999"),
            quarantined=one(a),
        ),
        Case(
            "labels_not_binary",
            _labels([("C0000001", "2025-01-01", "0"), ("C0000002", "2025-01-01", "2")]),
            quarantined=one("labels.csv"),
        ),
        Case(
            "labels_repeated",
            _labels([("C0000001", "2025-01-01", "0"), ("C0000001", "2025-01-01", "1")]),
            quarantined=one("labels.csv"),
        ),
        Case(
            "attributes_pii_name",
            _attributes(
                [
                    ("C0000001", "plan", "premium", "2024-06-01"),
                    ("C0000001", "Email", "someone@example.com", "2024-06-01"),
                ]
            ),
            quarantined=one("attributes.csv"),
        ),
        Case(
            "attributes_time_unreadable",
            _attributes(
                [
                    ("C0000001", "plan", "premium", "2024-06-01"),
                    ("C0000002", "plan", "basic", "someday"),
                ]
            ),
            quarantined=one("attributes.csv"),
        ),
        Case(
            "attributes_unknown_customer",
            _attributes([("C9999999", "plan", "premium", "2024-06-01")]),
            quarantined=one("attributes.csv"),
        ),
    ]


CASES = cases()


def build(case: Case, base: Base, folder: Path) -> Path:
    """The case's data dir: a copy of the base dir, broken."""
    shutil.copytree(base.dir, folder)
    case.make(folder, base)
    return folder


def table_files(folder: Path) -> dict[str, Path]:
    """The table files of a built dir by name (a quarantine folder aside)."""
    return {p.name: p for p in sorted(folder.iterdir()) if p.is_file()}


def config_text(data_dir: Path, model_name: str, limits: dict[str, int]) -> str:
    """A small pipeline config (churn only, few cutoffs and rounds, no actions) as YAML."""
    lines = [
        "name: corpus",
        "targets: [churn]",
        "data:",
        f"  dir: {data_dir}",
    ]
    if limits:
        lines.append("  limits: {" + ", ".join(f"{k}: {v}" for k, v in limits.items()) + "}")
    lines += [
        "cutoffs: {first: 2024-10-01, last: 2025-03-01, extra: [2025-06-30]}",
        "labels: {horizon_days: 91, churn: contractual}",
        f"features: {{pii_columns: [{', '.join(PII)}]}}",
        "model: {max_rounds: 20, early_stopping_rounds: 5, threads: 1, min_child_samples: 20}",
        f"tracking: {{experiment: {model_name}, model_name: {model_name}}}",
    ]
    return "\n".join(lines) + "\n"
