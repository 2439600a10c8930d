"""Check raw tables against the contract: structural faults stop, row faults are quarantined.

Pure functions of frames. `clean_table` returns the typed rows that pass, the rows that do not
(with a reason each, PII columns removed) and the faults grouped for a report. Nothing is dropped
without being counted.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import pandas as pd

from cxml.config import DEFAULT_PII_COLUMNS
from cxml.data.schema import (
    EVENT_VALUE_RANGES,
    MAX_MAGNITUDE,
    RESERVED_ATTRIBUTES,
    TABLES,
    UTC_TIMESTAMP,
    ColumnSpec,
    ContractError,
    TableSpec,
    outside_time_range,
)
from cxml.data.values import (
    LINE_BREAK,
    NOT_A_TIME,
    NUL,
    OUT_OF_TIME,
    TOO_LARGE,
    Texts,
    distinct,
    has_char,
    is_blank,
    numbers_in_text,
    per_text,
    read_times,
    stripped,
    too_large,
)

EXAMPLES_PER_FAULT = 3


def rows_at(index: pd.Index, mask: np.ndarray) -> pd.Index:
    """The labels of `index` where `mask` holds, by position: a RangeIndex indexed with a mask
    makes and keeps (cached on the index, which the clean table shares) an array of every
    row's label, eight bytes per row for the whole run."""
    return index.take(np.flatnonzero(mask))


@dataclass
class Fault:
    """One kind of row fault in one column of one file."""

    source: str
    column: str
    problem: str
    rows: int
    examples: list[str]


@dataclass
class TableResult:
    table: str
    clean: pd.DataFrame
    quarantine: pd.DataFrame
    faults: list[Fault] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    rows_read: int = 0
    source: str = ""  # the file's name


class _Faults:
    """Collects per-row reasons as boolean masks, so 5M rows cost a few vector operations."""

    def __init__(self, source: str, frame: pd.DataFrame):
        self.source = source
        self.frame = frame
        self.masks: list[tuple[str, str, np.ndarray]] = []

    def add(self, column: str, problem: str, mask: np.ndarray | pd.Series) -> None:
        mask = np.asarray(mask, dtype=bool)
        if mask.any():
            self.masks.append((column, problem, mask))

    def bad_rows(self) -> np.ndarray:
        bad = np.zeros(len(self.frame), dtype=bool)
        for _, _, mask in self.masks:
            bad |= mask
        return bad

    def reasons(self, bad: np.ndarray) -> pd.Series:
        reason = pd.Series("", index=rows_at(self.frame.index, bad), dtype=object)
        for column, problem, mask in self.masks:
            hit = mask[bad]
            reason[hit] = (
                reason[hit] + np.where(reason[hit] == "", "", "; ") + f"{column}: {problem}"
            )
        return reason

    def summary(self) -> list[Fault]:
        faults = []
        for column, problem, mask in self.masks:
            rows = np.flatnonzero(mask)[:EXAMPLES_PER_FAULT]
            values = self.frame[column].iloc[rows] if column in self.frame else [""] * len(rows)
            examples = [f"row {r + 1}: {v!r}" for r, v in zip(rows, values, strict=True)]
            faults.append(Fault(self.source, column, problem, int(mask.sum()), examples))
        return faults


def _parse_id(series: pd.Series, faults: _Faults, column: str) -> pd.Series:
    text, checked = stripped(series)
    faults.add(column, "empty", is_blank(checked))
    _control_characters(checked, faults, column)
    return text


def _control_characters(text: pd.Series | Texts, faults: _Faults, column: str) -> None:
    """A NUL byte, or a line break where a name is expected (a quote the export never closed
    joins the lines after it into one value)."""
    faults.add(column, NUL, has_char(text, "\x00"))
    faults.add(column, LINE_BREAK, has_char(text, "\n") | has_char(text, "\r"))


def _parse_timestamp(series: pd.Series, faults: _Faults, spec: ColumnSpec) -> pd.Series:
    beyond = np.zeros(len(series), dtype=bool)  # ISO times pandas cannot hold (e.g. 2999)
    if series.dtype == UTC_TIMESTAMP:
        parsed = series  # already as the contract keeps it: no copy
    elif isinstance(series.dtype, pd.DatetimeTZDtype):
        parsed = series.dt.tz_convert("UTC")
    elif pd.api.types.is_datetime64_dtype(series.dtype):
        parsed = series.dt.tz_localize("UTC")  # naive timestamps are taken to be UTC (the contract)
    else:
        text = series.astype("string").str.strip()
        parsed, beyond = read_times(text)
        unread = (parsed.isna() & text.notna() & (text != "")).to_numpy(bool)
        faults.add(spec.name, NOT_A_TIME, unread & ~beyond)
    outside = outside_time_range(parsed)
    faults.add(spec.name, OUT_OF_TIME, outside | beyond)
    if outside.any():
        parsed = parsed.where(~outside)
    parsed = parsed.astype("datetime64[ns, UTC]", copy=False)
    if spec.required:
        faults.add(spec.name, "empty", series.isna())
    return parsed


def _parse_number(series: pd.Series, faults: _Faults, spec: ColumnSpec) -> pd.Series:
    if pd.api.types.is_bool_dtype(series.dtype):
        faults.add(spec.name, "true/false where a number is expected", series.notna())
        return pd.Series(np.nan, index=series.index)
    number = pd.to_numeric(series, errors="coerce").astype(float, copy=False)
    faults.add(spec.name, "not a number", number.isna() & series.notna())
    faults.add(spec.name, TOO_LARGE, too_large(number))
    if spec.minimum is not None:
        faults.add(spec.name, f"below {spec.minimum:g}", number < spec.minimum)
    if spec.maximum is not None:
        faults.add(spec.name, f"above {spec.maximum:g}", number > spec.maximum)
    if spec.kind == "binary":
        faults.add(spec.name, "not 0 or 1", number.notna() & ~number.isin([0.0, 1.0]))
    return number


def _parse_string(series: pd.Series, faults: _Faults, spec: ColumnSpec) -> pd.Series:
    out, checked = stripped(series)
    if spec.required:
        faults.add(spec.name, "empty", is_blank(checked))
    if spec.kind == "text":  # free text may hold line breaks
        faults.add(spec.name, NUL, has_char(checked, "\x00"))
    else:
        _control_characters(checked, faults, spec.name)
    return out


def _attribute_column(series: pd.Series, faults: _Faults, name: str, text: bool) -> pd.Series:
    """A customers profile column, its bad values quarantined. `text`: read from CSV, where a
    column of numbers arrives as text: read as numbers when it holds numbers (Parquet keeps the
    type it was written with, so a text column there stays text)."""
    if isinstance(series.dtype, pd.CategoricalDtype):  # text held once per category
        faults.add(name, NUL, has_char(series, "\x00"))
        return series
    if pd.api.types.is_bool_dtype(series.dtype):
        return series
    if pd.api.types.is_numeric_dtype(series.dtype):
        faults.add(name, TOO_LARGE, too_large(series.astype(float)))
        return series
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return series
    faults.add(name, NUL, has_char(series, "\x00"))
    if not text:
        return series
    values, _ = stripped(series)
    number = numbers_in_text(values)
    if number is None:
        return series
    given = values.notna() & (values != "")
    faults.add(name, "not a number, where the column holds numbers", given & number.isna())
    faults.add(name, TOO_LARGE, too_large(number))
    return number


def _check_structure(spec: TableSpec, raw: pd.DataFrame, source: str) -> None:
    missing = [c for c in spec.required_columns if c not in raw.columns]
    if missing:
        shown = [str(c)[:40] for c in raw.columns[:20]]
        have = ", ".join(shown) + (", ..." if len(raw.columns) > 20 else "") or "none"
        raise ContractError(
            f"{source}: required column(s) {', '.join(missing)} missing (the file has: {have}); "
            f"rename or add them — see the data contract in docs/data-contract.md"
        )


def _event_value_ranges(frame: pd.DataFrame, faults: _Faults) -> None:
    if "value" not in frame or "event_type" not in frame:
        return
    codes, kinds = distinct(frame["event_type"])  # bounds looked up per type, not per row
    names, anything = kinds.astype(object), (-np.inf, np.inf)
    low, high = np.array([*(EVENT_VALUE_RANGES.get(k, anything) for k in names), anything]).T
    value = frame["value"].to_numpy(dtype=float, na_value=np.nan)
    # only the events that carry a value (most carry none): beyond MAX_MAGNITUDE TOO_LARGE
    # says so, NaN is in no range, and code -1 (no type) reads the last slot
    carry = np.flatnonzero((value <= MAX_MAGNITUDE) & (value >= -MAX_MAGNITUDE))
    found, kind = value[carry], codes[carry]
    beyond = carry[(found < low[kind]) | (found > high[kind])]
    if not len(beyond):  # the usual answer: no row to name a type for
        return
    outside = np.zeros(len(value), dtype=bool)
    outside[beyond] = True
    for code in np.unique(codes[beyond]):
        lo, hi = low[code], high[code]
        limit = f"{lo:g}..{hi:g}" if np.isfinite(hi) else f">= {lo:g}"
        faults.add("value", f"outside {limit} for {names[code]}", outside & (codes == code))


@lru_cache(maxsize=4096)  # the same few names on every request the endpoint checks
def pii_key(name: object) -> str:
    """A column name as it is compared with the PII list: case, spaces, `_` and `-` aside, so
    `Email`, ` e-mail ` and `E_Mail` all match `email`, and `National ID` `national_id`."""
    return re.sub(r"[\s_\-]+", "", str(name)).lower()


def is_pii(names: Iterable[object], pii_columns: Iterable[str]) -> np.ndarray:
    """Per name: whether it names a PII column (`pii_key`: the one way names are matched)."""
    pii = {pii_key(p) for p in pii_columns}
    return np.array([pii_key(n) in pii for n in names], dtype=bool)


def read_as_pii(table: str, name: str, pii_columns: Iterable[str]) -> bool:
    """Whether a data dir's reader leaves the column `name` of `table` out: it is named as PII
    and is not one of the contract's own. No command uses such a column, so none holds it."""
    contract = {column.name for column in TABLES[table].columns}
    return name not in contract and bool(is_pii([name], pii_columns)[0])


_EMAIL = r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}"
PII_SCAN_ROWS = 2_000  # values looked at per column: enough to see a pattern, cheap on any size
PII_SHARE = 0.5  # a column is taken for PII when at least this share of its values look so


def _luhn(digits: str) -> bool:
    """The check digit card numbers carry (ISO/IEC 7812)."""
    total = 0
    for place, char in enumerate(reversed(digits)):
        d = int(char) * (2 if place % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def pii_kind(values: pd.Series) -> str | None:
    """What a text column's values look like when they look like personal data (e-mail
    addresses, card numbers, phone numbers), from a sample of its values; None otherwise."""
    text = values.dropna().astype(str).str.strip()
    text = text[text != ""].head(PII_SCAN_ROWS)
    if text.empty:
        return None
    if text.str.fullmatch(_EMAIL).mean() >= PII_SHARE:
        return "e-mail addresses"
    digits = text.str.replace(r"[\s().+/-]", "", regex=True)
    numeric = digits.str.fullmatch(r"\d+")
    length = digits.str.len()
    card = numeric & length.between(13, 19) & digits.map(lambda d: d.isdigit() and _luhn(d))
    if card.mean() >= PII_SHARE:
        return "card numbers"
    if (numeric & length.between(10, 15)).mean() >= PII_SHARE:
        return "phone numbers"
    return None


_LONG_NUMBER = re.compile(r"\+?\d(?:[\s./-]?\d){6,}")  # 7+ digits: a phone, card or account


def contact_details_masked(text: str) -> str:
    """`text` with what looks like an e-mail address or a phone, card or account number
    replaced by [e-mail] / [number]: customers write them into comments, and a page for the
    whole team needs the words, not the details."""
    return _LONG_NUMBER.sub("[number]", re.sub(_EMAIL, "[e-mail]", text))


def pii_lookalikes(
    customers: pd.DataFrame, pii_columns: Iterable[str], not_pii: Iterable[str] = ()
) -> dict[str, str]:
    """The customers' text columns not declared PII (nor declared safe in `not_pii`) whose
    values look like personal data, each with what they look like."""
    safe = {pii_key(n) for n in not_pii}
    found = {}
    for name in customers.columns[~is_pii(customers.columns, pii_columns)]:
        column = customers[name]
        if name in RESERVED_ATTRIBUTES or pii_key(name) in safe:
            continue
        if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_datetime64_any_dtype(column):
            continue
        if kind := pii_kind(column):
            found[str(name)] = kind
    return found


def usable_attributes(names: Iterable[object], pii_columns: Iterable[str]) -> list[str]:
    """The attribute names an attributes table may hold (sorted, each once): not empty, not PII
    and not `customer_id` or `signup_time`. Rows naming any other are quarantined."""
    found = {str(n).strip() for n in names if n is not None and not pd.isna(n)}
    found -= {"", *RESERVED_ATTRIBUTES}
    return sorted(n for n, pii in zip(found, is_pii(found, pii_columns), strict=True) if not pii)


def numeric_attributes(customers: pd.DataFrame) -> frozenset[str]:
    """The customers columns holding numbers (true/false columns are not): an attribute's
    history values are read as numbers exactly for these."""
    return frozenset(
        str(c)
        for c in customers.columns
        if str(c) not in RESERVED_ATTRIBUTES
        and pd.api.types.is_numeric_dtype(customers[c].dtype)
        and not pd.api.types.is_bool_dtype(customers[c].dtype)
    )


def _attribute_rows(
    frame: pd.DataFrame, faults: _Faults, pii_columns: Iterable[str], numeric: Collection[str]
) -> np.ndarray:
    """Quarantine attribute rows naming PII or a reserved column, and text where the customers
    column holds numbers; returns which rows name PII (their values never reach a file)."""
    names = frame["attribute"].astype(object)
    pii = is_pii(names, pii_columns) & names.notna().to_numpy()
    faults.add("attribute", "a PII attribute (never stored or used)", pii)
    faults.add(
        "attribute",
        f"not a profile attribute ({' and '.join(RESERVED_ATTRIBUTES)} have no history)",
        names.isin(RESERVED_ATTRIBUTES),
    )
    if numeric and "value" in frame:
        value = frame["value"].astype(object)
        number = pd.to_numeric(value, errors="coerce")
        faults.add(
            "value",
            "not a number, where the customers column of this attribute holds numbers",
            names.isin(list(numeric)).to_numpy() & ~pii & value.notna() & number.isna(),
        )
    return pii


def clean_table(
    table: str,
    raw: pd.DataFrame,
    source: str,
    known_customers: pd.Index | None = None,
    pii_columns: tuple[str, ...] = DEFAULT_PII_COLUMNS,
    numeric: Collection[str] = (),
    set_aside: Collection[str] = (),
    text: bool = False,
) -> TableResult:
    """Type the contract columns, quarantine faulty rows with reasons, keep the rest.
    `numeric`: for the attributes table, the customers columns that hold numbers
    (`numeric_attributes`); `set_aside`: ids of customers whose rows were quarantined (rows of
    theirs here say so rather than "unknown customer"); `text`: read from CSV (every value
    text)."""
    spec = TABLES[table]
    _check_structure(spec, raw, source)
    if not raw.index.equals(pd.RangeIndex(len(raw))):
        raw = raw.reset_index(drop=True)
    faults = _Faults(source, raw)
    typed: dict[str, pd.Series] = {}  # one frame made at the end: no copy per inserted column
    for col in spec.columns:
        if col.name not in raw:
            continue
        series = raw[col.name]
        if col.kind == "id":
            typed[col.name] = _parse_id(series, faults, col.name)
        elif col.kind == "timestamp":
            typed[col.name] = _parse_timestamp(series, faults, col)
        elif col.kind in ("number", "binary"):
            typed[col.name] = _parse_number(series, faults, col)
        else:
            typed[col.name] = _parse_string(series, faults, col)
    known = {c.name for c in spec.columns}
    extra = [c for c in raw.columns if c not in known]
    if spec.open_columns:
        pii = dict(zip(extra, is_pii(extra, pii_columns), strict=True))
        for name in extra:
            # a PII column is never looked at: a fault's examples would show its values
            column = raw[name]
            typed[name] = column if pii[name] else _attribute_column(column, faults, name, text)
        extra = []
    clean = pd.DataFrame(typed, index=raw.index, copy=False)
    if table == "events":
        _event_value_ranges(clean, faults)
    secret = np.zeros(len(raw), dtype=bool)
    if table == "attributes":
        secret = _attribute_rows(clean, faults, pii_columns, numeric)
    if spec.unique:
        faults.add(
            spec.unique[0],
            f"duplicate {' + '.join(spec.unique)} (first kept)",
            clean.duplicated(list(spec.unique), keep="first"),
        )
    if known_customers is not None:
        ids = distinct(clean["customer_id"])  # looked up once per distinct id, twice below
        unknown = (ids[0] >= 0) & ~per_text(ids, lambda t: t.isin(known_customers))
        aside = unknown & per_text(ids, lambda t: t.isin(list(set_aside)))
        faults.add("customer_id", "its customer's row is quarantined (see customers)", aside)
        faults.add("customer_id", "unknown customer (not in customers)", unknown & ~aside)
    bad = faults.bad_rows()
    kept = raw.columns[~is_pii(raw.columns, pii_columns)]
    quarantine = raw.loc[bad][kept].astype(object)  # rows first: the columns of no row are free
    if any(problem == NUL for _, problem, _ in faults.masks):  # shown, not passed on
        quarantine = quarantine.map(
            lambda v: v.replace("\x00", "\\x00") if isinstance(v, str) else v
        )
    if secret.any() and "value" in quarantine:
        quarantine.loc[secret[bad], "value"] = "(withheld: PII)"
    quarantine.insert(0, "source_row", rows_at(raw.index, bad) + 1)
    quarantine.insert(0, "source_file", source)
    quarantine["reason"] = faults.reasons(bad)
    result = clean.loc[~bad].reset_index(drop=True) if bad.any() else clean
    return TableResult(table, result, quarantine, faults.summary(), extra, len(raw), source)
