"""Reading a source file into the data contract: the pieces every importer shares.

A source row that cannot be imported is quarantined with its line number and the reason in plain
words; nothing is dropped silently. Structural faults (missing file, not UTF-8, empty, a named
column absent) raise `SourceError` instead: no row could be trusted.

`source_row` is the line in the file, the header being line 1 (data row n is line n + 1); it
assumes no quoted field spans lines and no blank lines. Pure pandas: no printing, no files written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from cxml.data.io import read_file
from cxml.data.schema import UTC_TIMESTAMP, ContractError

Fault = tuple[pd.Series, str | pd.Series]
Tables = dict[str, pd.DataFrame]
Counts = dict[str, int]


class SourceError(ValueError):
    """A source file cannot be imported at all; the message names the file and what to do."""


@dataclass
class ImportResult:
    """Contract tables, the rows left out (with reasons) and named counts of what happened."""

    tables: Tables
    quarantine: pd.DataFrame
    counts: Counts = field(default_factory=dict)


# --- reading and quarantining -------------------------------------------------------------------


def read_source(path: Path, required: tuple[str, ...], sep: str = ",") -> pd.DataFrame:
    """All cells as strings ("" when blank; `required` ones stripped), indexed by line number."""
    path = Path(path)
    name = path.name
    if not path.is_file():
        raise SourceError(f"{path}: file not found; check the path (and CXML_SHARED_DATA)")
    try:
        frame = read_file(path, sep=sep).fillna("")  # the data dir's reader: its limits and checks
    except ContractError as exc:
        raise SourceError(str(exc)) from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in required if c not in frame.columns]
    if missing:
        what = "column " if len(missing) == 1 else "columns "
        what += ", ".join(f"'{c}'" for c in missing) + (" is" if len(missing) == 1 else " are")
        raise SourceError(
            f"{name}: {what} missing; the file must have columns "
            f"{', '.join(required)} (it has: {', '.join(frame.columns)})"
        )
    frame[list(required)] = frame[list(required)].apply(lambda col: col.str.strip())
    frame.index = pd.RangeIndex(2, len(frame) + 2)
    for column in frame.columns:  # cut at the NUL, a value would be imported as another one
        nul = frame[column].str.contains("\x00", regex=False)
        if nul.any():
            raise SourceError(
                f"{name}: line {nul.idxmax()}, column '{column}' holds a NUL byte (a binary or "
                "damaged export): remove it and import again"
            )
    return frame


def reasons(index: pd.Index, faults: list[Fault]) -> pd.Series:
    """One reason per row ("" when clean); a row with several faults gets all, joined by '; '."""
    reason = pd.Series("", index=index, dtype=object)
    for mask, text in faults:
        mask = mask.fillna(False).astype(bool)
        sep = pd.Series(np.where(reason == "", "", "; "), index=index)
        reason = reason.where(~mask, reason + sep + text)
    return reason


def finish(
    raw: pd.DataFrame, reason: pd.Series, path: Path, tables: Tables, counts: Counts
) -> ImportResult:
    """The result: tables, the faulty rows as they were in the file (plus where they came from
    and why they left) and the counts, including how many rows were quarantined."""
    bad = raw[reason != ""].assign(source_file=Path(path).name)
    bad["source_row"] = bad.index.astype("int64")
    bad["reason"] = reason[reason != ""]
    counts["quarantined_rows"] = len(bad)
    return ImportResult(tables, bad.reset_index(drop=True), counts)


def bad_value(raw: pd.DataFrame, column: str, mask: pd.Series, says: str) -> Fault:
    """A fault whose reason names the column and quotes the bad value (first 40 characters)."""
    return mask, f"column '{column}' value '" + raw[column].str.slice(0, 40) + "' " + says


def not_a_number(raw: pd.DataFrame, column: str) -> tuple[pd.Series, Fault]:
    """Parse a column as float; the fault flags blanks, text and infinities."""
    values = pd.to_numeric(raw[column], errors="coerce").astype(float)
    return values, bad_value(raw, column, ~np.isfinite(values), "is not a number")


def not_one_of(raw: pd.DataFrame, column: str, allowed: tuple[str, ...]) -> Fault:
    """Fault for values outside a fixed set, listing the allowed ones."""
    return bad_value(raw, column, ~raw[column].isin(allowed), f"is not one of {', '.join(allowed)}")


def parse_time(text: pd.Series, timezone: str = "UTC", time_format: str | None = None) -> pd.Series:
    """ISO-8601 strings (or `time_format`, strftime codes such as '%Y%m%d') to UTC, NaT if
    unparseable. Naive times are local to `timezone` (in a DST overlap: standard time; in a gap:
    shifted forward); strings with an offset ('Z', '+02:00') keep it. Other formats (09/12/2011:
    day or month first?) are left NaT, not guessed."""
    fast = text.astype("string[pyarrow]")  # regex runs in arrow, not per Python object
    has_offset = fast.str.contains(r"(?:Z|[+-]\d\d:?\d\d)$", regex=True).fillna(False)
    has_offset = has_offset.astype(bool)
    if time_format is not None:  # an explicit format says itself whether it has an offset
        has_offset[:] = "%z" in time_format or "%Z" in time_format
    form = time_format or "ISO8601"
    naive = pd.to_datetime(text.where(~has_offset), format=form, errors="coerce")
    try:
        local = naive.dt.tz_localize(
            timezone, ambiguous=np.zeros(len(naive), dtype=bool), nonexistent="shift_forward"
        )
    except KeyError as exc:  # zoneinfo's and pytz's unknown-zone errors are KeyErrors
        raise SourceError(f"timezone '{timezone}' is unknown: use an IANA name") from exc
    aware = pd.to_datetime(text.where(has_offset), format=form, errors="coerce", utc=True)
    return local.dt.tz_convert("UTC").where(~has_offset, aware).astype(UTC_TIMESTAMP)


def empty_events() -> pd.DataFrame:
    """An events table with no rows but the contract's columns and dtypes."""
    return make_events(pd.Series([], dtype=object), pd.Series([], dtype=UTC_TIMESTAMP), "", None)


def make_events(
    customer_id: pd.Series,
    event_time: pd.Series | pd.Timestamp,
    event_type: str | pd.Series,
    channel: str | None,
    value: pd.Series | None = None,
) -> pd.DataFrame:
    """A contract events table, sorted by customer and time so output is deterministic."""
    n = len(customer_id)
    if isinstance(event_time, pd.Timestamp):
        event_time = pd.Series(event_time, index=range(n))
    events = pd.DataFrame(
        {
            "customer_id": np.asarray(customer_id, dtype=object),
            "event_time": pd.DatetimeIndex(event_time).astype(UTC_TIMESTAMP),
            "event_type": np.asarray(np.broadcast_to(event_type, n), dtype=object),
            "channel": np.full(n, channel, dtype=object),
            "value": np.full(n, np.nan) if value is None else np.asarray(value, dtype=float),
            "text": np.full(n, None, dtype=object),
        }
    )
    return sort_events(events)


def sort_events(events: pd.DataFrame) -> pd.DataFrame:
    """Sort by customer, time, type (stable) and renumber the index."""
    keys = ["customer_id", "event_time", "event_type"]
    return events.sort_values(keys, kind="mergesort").reset_index(drop=True)
