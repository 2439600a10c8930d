"""Any event log into the data contract: a transaction export (`import_transactions`), or the
files of several systems described by a mapping (`import_events`): which column holds the id,
time, type, channel, value and text, how the file is split and how its dates are written."""

from __future__ import annotations

import csv
import gzip
import itertools
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import pandas as pd
from pydantic import Field, TypeAdapter, ValidationError, with_config

from cxml.config import FORBID, describe_invalid, read_settings
from cxml.data.schema import UTC_TIMESTAMP
from cxml.data.sources import (
    Fault,
    ImportResult,
    SourceError,
    bad_value,
    finish,
    make_events,
    not_a_number,
    parse_time,
    read_source,
    reasons,
    sort_events,
)


def import_transactions(
    path: Path,
    customer_col: str,
    time_col: str,
    amount_col: str,
    channel: str | None = None,
    timezone: str = "UTC",
) -> ImportResult:
    """Any CSV transaction log: one event per row, `purchase` (or `return` with the absolute value
    when the amount is negative). Naive times are local to `timezone` and converted to UTC.
    Customers are the distinct ids among the imported rows."""
    raw = read_source(path, (customer_col, time_col, amount_col))
    cust = raw[customer_col]
    time = parse_time(raw[time_col], timezone)
    amount, amount_fault = not_a_number(raw, amount_col)
    faults: list[Fault] = [
        (cust == "", f"column '{customer_col}' is empty: no customer id"),
        bad_value(raw, time_col, time.isna(), "is not a date (use YYYY-MM-DD[ HH:MM:SS])"),
        amount_fault,
    ]
    reason = reasons(raw.index, faults)
    ok = reason == ""
    negative = ok & (amount < 0)
    event_type = pd.Series(np.where(negative[ok], "return", "purchase"))
    events = make_events(cust[ok], time[ok], event_type, channel, amount[ok].abs())
    customers = pd.DataFrame({"customer_id": np.sort(cust[ok].unique()).astype(object)})
    counts = {
        "rows_read": len(raw),
        "customers": len(customers),
        "events": len(events),
        "negative_amount_rows": int(negative.sum()),
    }
    return finish(raw, reason, path, {"customers": customers, "events": events}, counts)


# --- any event log, several sources -------------------------------------------------------------

#: Delimiters a source may be split by; `auto` tries each on the first lines of the file.
Delimiter = Literal["auto", ",", ";", "tab", "|", "whitespace"]
_SEPARATORS = {",": ",", ";": ";", "tab": "\t", "|": "|", "whitespace": r"\s+"}
_SNIFF_LINES = 50


@with_config(FORBID)
@dataclass(frozen=True)
class EventColumns:
    """Which column of a source holds each field of the events table (None: the source has
    none; the event type and channel may then be given once for the whole source)."""

    customer_id: str
    event_time: str
    event_type: str | None = None
    channel: str | None = None
    value: str | None = None
    text: str | None = None


@with_config(FORBID)
@dataclass(frozen=True)
class EventSource:
    """One exported file of events (a CRM export, a ticketing system, surveys, web analytics)."""

    file: Path
    columns: EventColumns
    #: Tags every row of this source in the events table's `source` column (default: file stem).
    name: str | None = None
    #: The event type (or channel) of every row, for a source without such a column.
    event_type: str | None = None
    channel: str | None = None
    delimiter: Delimiter = "auto"
    decimal: Literal[".", ","] = "."
    #: strftime codes, e.g. '%Y%m%d' or '%d/%m/%Y %H:%M'; default: ISO 8601.
    time_format: str | None = None
    timezone: str = "UTC"

    @property
    def tag(self) -> str:
        return self.name or self.file.name.split(".")[0]


@with_config(FORBID)
@dataclass(frozen=True)
class CustomerSource:
    """An optional customers file: who the customers are and when each signed up."""

    file: Path
    customer_id: str
    signup_time: str | None = None
    delimiter: Delimiter = "auto"
    time_format: str | None = None
    timezone: str = "UTC"


@with_config(FORBID)
@dataclass(frozen=True)
class EventLogMapping:
    """How the files of an event log become one data dir (`cxml import events --map`)."""

    sources: Annotated[tuple[EventSource, ...], Field(min_length=1)]
    customers: CustomerSource | None = None
    #: Ids are kept exactly as written ("00001" is not "1"); true: all-digit ids lose their
    #: leading zeros, so one source's "00001" joins another's "1".
    normalise_ids: bool = False


def read_mapping(path: Path) -> EventLogMapping:
    """The mapping file at `path`; relative file paths are relative to the mapping's folder."""
    path = Path(path)
    mapping = parse_mapping(read_settings(path, "mapping file"), path)
    here = path.parent

    def near(file: Path) -> Path:
        return file if file.is_absolute() else here / file

    sources = tuple(replace(s, file=near(s.file)) for s in mapping.sources)
    who = mapping.customers and replace(mapping.customers, file=near(mapping.customers.file))
    return replace(mapping, sources=sources, customers=who)


def parse_mapping(raw: dict[str, object], path: Path = Path("(flags)")) -> EventLogMapping:
    """Settings (from a mapping file, or the command's flags) as a checked mapping."""
    try:
        return TypeAdapter(EventLogMapping).validate_python(raw)
    except ValidationError as exc:
        raise SourceError(describe_invalid(exc, path, "the mapping")) from None


def import_event_log(mapping_path: Path) -> ImportResult:
    """The importer a pipeline config names as `data.importer: events` (`data.source`: the
    mapping file)."""
    return import_events(read_mapping(mapping_path))


def import_events(mapping: EventLogMapping) -> ImportResult:
    """Every source's rows as events, each tagged with its source; customers from the
    customers file, or else every id seen (signup: the file's, or else the first event)."""
    tags = [s.tag for s in mapping.sources]
    if len(set(tags)) < len(tags):
        raise SourceError(
            f"two sources are both named '{max(tags, key=tags.count)}': give each a distinct name"
        )
    parts, quarantines, counts = [], [], dict[str, int]()
    for source in mapping.sources:
        result = _source_events(source, mapping.normalise_ids)
        parts.append(result.tables["events"])
        quarantines.append(result.quarantine)
        counts |= {f"{source.tag}_{k}": v for k, v in result.counts.items()}
    events = sort_events(pd.concat(parts, ignore_index=True))
    if mapping.customers is None:
        customers = _first_seen(events)
    else:
        known = _customers_file(mapping.customers, mapping.normalise_ids)
        quarantines.append(known.quarantine)
        customers = known.tables["customers"]
        events, unknown = _of_known(events, customers)
        quarantines.append(unknown)
        customers = _signup_from_events(customers, events)
    kept = [q for q in quarantines if len(q)]
    quarantine = pd.concat(kept, ignore_index=True) if kept else quarantines[0]
    counts |= {
        "customers": len(customers),
        "events": len(events),
        "ids_equal_but_for_leading_zeros": _zero_padded_twins(customers["customer_id"]),
        "quarantined_rows": len(quarantine),
    }
    return ImportResult({"customers": customers, "events": events}, quarantine, counts)


def sniff_delimiter(path: Path) -> str:
    """The delimiter that splits the header and the first lines into the same number (> 1) of
    fields, the one giving most fields; whitespace only when no other one does."""
    opened = gzip.open(path, "rt") if path.suffix == ".gz" else open(path)  # noqa: SIM115
    try:
        with opened as text:
            lines = [line for line in itertools.islice(text, _SNIFF_LINES) if line.strip()]
    except (UnicodeDecodeError, OSError, EOFError):
        return ","  # the reader says what is wrong with the file
    best, fields = "", 1
    for name in (",", ";", "tab", "|"):
        widths = {len(row) for row in csv.reader(lines, delimiter=_SEPARATORS[name])}
        if len(widths) == 1 and (width := widths.pop()) > fields:
            best, fields = name, width
    if not best and lines and len({len(line.split()) for line in lines} - {1}) == 1:
        best = "whitespace"
    if not best:
        raise SourceError(
            f"{path.name}: cannot tell how the columns are separated; set `delimiter` in the "
            "mapping (',', ';', 'tab', '|' or 'whitespace')"
        )
    return _SEPARATORS[best]


def _source_events(source: EventSource, normalise: bool) -> ImportResult:
    cols = source.columns
    if (cols.event_type is None) == (source.event_type is None):
        raise SourceError(
            f"{source.file.name}: give the event type either as a column (columns.event_type) "
            "or once for the whole source (event_type), not both or neither"
        )
    if cols.channel is not None and source.channel is not None:
        raise SourceError(
            f"{source.file.name}: give the channel either as a column or once, not both"
        )
    named = (cols.event_type, cols.channel, cols.value, cols.text)
    required = (cols.customer_id, cols.event_time, *(c for c in named if c is not None))
    sep = _separator(source.file, source.delimiter)
    raw = read_source(source.file, tuple(dict.fromkeys(required)), sep)
    cust = _ids(raw[cols.customer_id], normalise)
    time = parse_time(raw[cols.event_time], source.timezone, source.time_format)
    kind = raw[cols.event_type] if cols.event_type else pd.Series(source.event_type, raw.index)
    value, value_fault = _numbers(raw, cols.value, source.decimal)
    form = source.time_format or "YYYY-MM-DD[ HH:MM:SS], or set time_format"
    faults: list[Fault] = [
        (cust == "", f"column '{cols.customer_id}' is empty: no customer id"),
        bad_value(raw, cols.event_time, time.isna(), f"is not a date ({form})"),
        (kind == "", f"column '{cols.event_type}' is empty: no event type"),
        value_fault,
    ]
    reason = reasons(raw.index, faults)
    ok = reason == ""
    channel = raw[cols.channel].replace("", None) if cols.channel else None
    text = raw[cols.text].replace("", None) if cols.text else None
    events = pd.DataFrame(
        {
            "customer_id": cust[ok].to_numpy(dtype=object),
            "event_time": time[ok].to_numpy(),
            "event_type": kind[ok].to_numpy(dtype=object),
            "channel": channel[ok].to_numpy(dtype=object)
            if channel is not None
            else np.full(int(ok.sum()), source.channel, dtype=object),
            "value": value[ok].to_numpy(dtype=float),
            "text": text[ok].to_numpy(dtype=object)
            if text is not None
            else np.full(int(ok.sum()), None, dtype=object),
            "source": source.tag,
        }
    )
    events["event_time"] = events["event_time"].astype(UTC_TIMESTAMP)
    result = finish(raw, reason, source.file, {"events": events}, {"rows_read": len(raw)})
    result.quarantine.insert(0, "source", source.tag)
    return result


def _customers_file(source: CustomerSource, normalise: bool) -> ImportResult:
    wanted = (source.customer_id, *((source.signup_time,) if source.signup_time else ()))
    raw = read_source(source.file, wanted, _separator(source.file, source.delimiter))
    cust = _ids(raw[source.customer_id], normalise)
    faults: list[Fault] = [
        (cust == "", f"column '{source.customer_id}' is empty: no customer id"),
        (cust.duplicated() & (cust != ""), f"column '{source.customer_id}' repeats an id"),
    ]
    signup = pd.Series(pd.NaT, index=raw.index, dtype=UTC_TIMESTAMP)
    if source.signup_time:
        signup = parse_time(raw[source.signup_time], source.timezone, source.time_format)
        given = raw[source.signup_time] != ""
        faults.append(bad_value(raw, source.signup_time, given & signup.isna(), "is not a date"))
    reason = reasons(raw.index, faults)
    ok = reason == ""
    customers = pd.DataFrame(
        {"customer_id": cust[ok].to_numpy(dtype=object), "signup_time": signup[ok].to_numpy()}
    )
    customers["signup_time"] = customers["signup_time"].astype(UTC_TIMESTAMP)
    return finish(raw, reason, source.file, {"customers": customers}, {})


def _of_known(events: pd.DataFrame, customers: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The events of customers in the customers file, and the others as quarantined rows."""
    known = events["customer_id"].isin(customers["customer_id"])
    aside = events.loc[~known].drop(columns=["text"]).astype(object)
    aside["reason"] = "customer_id not in the customers file: add the customer or fix the id"
    return events.loc[known].reset_index(drop=True), aside


def _first_seen(events: pd.DataFrame) -> pd.DataFrame:
    first = events.groupby("customer_id", sort=True)["event_time"].min()
    return pd.DataFrame(
        {"customer_id": first.index.to_numpy(dtype=object), "signup_time": first.to_numpy()}
    )


def _signup_from_events(customers: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    """Customers whose signup is missing get their first event's time (none: stays missing)."""
    first = events.groupby("customer_id")["event_time"].min()
    filled = customers["signup_time"].fillna(customers["customer_id"].map(first))
    return customers.assign(signup_time=filled.astype(UTC_TIMESTAMP))


def _ids(raw: pd.Series, normalise: bool) -> pd.Series:
    """Ids as written; `normalise`: all-digit ids without their leading zeros ("007" -> "7")."""
    if not normalise:
        return raw
    digits = raw.str.fullmatch(r"\d+")
    return raw.where(~digits, raw.str.lstrip("0").replace("", "0"))


def _zero_padded_twins(ids: pd.Series) -> int:
    """How many customers share their digits with another id but for leading zeros ("007",
    "7"): a sign that two sources write one id two ways (normalise_ids joins them)."""
    digits = ids[ids.str.fullmatch(r"\d+")]
    stripped = digits.str.lstrip("0")
    return int(stripped.duplicated(keep=False).sum())


_NUMBER = {
    ".": r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?",
    ",": r"[-+]?(?:\d{1,3}(?:\.\d{3})+|\d+)(?:,\d*)?",
}


def _numbers(raw: pd.DataFrame, column: str | None, decimal: str) -> tuple[pd.Series, Fault]:
    """The column as numbers (blank: missing) in the source's decimal notation; with a decimal
    comma a '.' may only group thousands ("1.234,5"), so "12.5" is a fault, not 125."""
    if column is None:
        return pd.Series(np.nan, index=raw.index), (pd.Series(False, index=raw.index), "")
    text = raw[column].str.strip()
    written = text.str.fullmatch(_NUMBER[decimal])
    if decimal == ",":
        text = text.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    values = pd.to_numeric(text.where(written), errors="coerce").astype(float)
    says = f"is not a number (decimal mark '{decimal}')"
    return values, bad_value(raw, column, (text != "") & ~np.isfinite(values), says)


def _separator(path: Path, delimiter: str) -> str:
    if delimiter != "auto":
        return _SEPARATORS[delimiter]
    if not path.is_file():
        return ","  # read_source names the missing file
    return sniff_delimiter(path)
