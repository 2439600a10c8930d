"""The data contract: which tables, which columns, what each column holds.

`TABLES` is the single description the readers, the validator and the importers share.
The pandera schemas check a *clean* table (after row faults were quarantined): they are the
promise every later stage relies on, and tests assert simulator and importer output against them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import pandera.pandas as pa

Kind = Literal["id", "timestamp", "string", "number", "text", "binary"]

UTC_TIMESTAMP = pd.DatetimeTZDtype("ns", "UTC")


def utc_timestamp(value: str | pd.Timestamp) -> pd.Timestamp:
    """A time as a UTC Timestamp; a naive value is taken to be UTC already (the contract)."""
    stamp = pd.Timestamp(value)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


#: The times a table or a request may hold, [EARLIEST, LATEST): one definition for batch
#: (`data/validate.py`) and the service (`serving/checks.py`). Outside it a time is a typo or a
#: placeholder (1800-01-01, 2999-12-31), which would stretch every "days since" feature.
EARLIEST = pd.Timestamp("1900-01-01", tz="UTC")
LATEST = pd.Timestamp("2200-01-01", tz="UTC")
TIME_RANGE = f"{EARLIEST.year}..{LATEST.year}"

#: The largest magnitude a number in a table may have: beyond any amount, count or duration a
#: customer produces, and far from float overflow when millions of them are summed.
MAX_MAGNITUDE = 1e15


def outside_time_range(times: pd.Series) -> np.ndarray:
    """Per UTC time: whether it is outside [EARLIEST, LATEST) (a missing time is not)."""
    return np.asarray(times.notna() & ((times < EARLIEST) | (times >= LATEST)), dtype=bool)


class ContractError(ValueError):
    """A structural fault in the input: the run cannot go on. The message says what to do."""


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    kind: Kind
    required: bool = True
    #: For numbers: the smallest allowed value (None: any).
    minimum: float | None = None
    maximum: float | None = None


@dataclass(frozen=True)
class TableSpec:
    name: str
    columns: tuple[ColumnSpec, ...]
    required: bool = True
    #: Whether columns outside `columns` are welcome (customers: static attributes).
    open_columns: bool = False
    #: Columns that together must be unique.
    unique: tuple[str, ...] = field(default_factory=tuple)

    def column(self, name: str) -> ColumnSpec:
        return next(c for c in self.columns if c.name == name)

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.required]


TABLES: dict[str, TableSpec] = {
    "customers": TableSpec(
        "customers",
        (ColumnSpec("customer_id", "id"), ColumnSpec("signup_time", "timestamp", required=False)),
        open_columns=True,
        unique=("customer_id",),
    ),
    "events": TableSpec(
        "events",
        (
            ColumnSpec("customer_id", "id"),
            ColumnSpec("event_time", "timestamp"),
            ColumnSpec("event_type", "string"),
            ColumnSpec("channel", "string", required=False),
            ColumnSpec("value", "number", required=False),
            ColumnSpec("text", "text", required=False),
            #: Which system the event came from (a CRM export, ticketing, surveys), when several.
            ColumnSpec("source", "string", required=False),
        ),
    ),
    "actions": TableSpec(
        "actions",
        (
            ColumnSpec("customer_id", "id"),
            ColumnSpec("action_time", "timestamp"),
            ColumnSpec("action", "string"),
            ColumnSpec("channel", "string", required=False),
            ColumnSpec("cost", "number", required=False, minimum=0.0),
            ColumnSpec("propensity", "number", required=False, minimum=0.0, maximum=1.0),
        ),
        required=False,
    ),
    "labels": TableSpec(
        "labels",
        (
            ColumnSpec("customer_id", "id"),
            ColumnSpec("cutoff", "timestamp"),
            ColumnSpec("churn", "binary", required=False),
            ColumnSpec("satisfaction_drop", "binary", required=False),
        ),
        required=False,
        unique=("customer_id", "cutoff"),
    ),
    # The history of profile attributes: from `valid_from` on, `attribute` had `value` (text as
    # stored; see features/attributes.py for how it is read as of a cutoff).
    "attributes": TableSpec(
        "attributes",
        (
            ColumnSpec("customer_id", "id"),
            ColumnSpec("attribute", "string"),
            ColumnSpec("value", "text", required=False),
            ColumnSpec("valid_from", "timestamp"),
        ),
        required=False,
        unique=("customer_id", "attribute", "valid_from"),
    ),
}

#: Customers columns that are not profile attributes, so no attribute history can name them.
RESERVED_ATTRIBUTES = ("customer_id", "signup_time")

#: Per event type, the allowed range of `value` (a row outside it is quarantined).
EVENT_VALUE_RANGES: dict[str, tuple[float, float]] = {
    "purchase": (0.0, MAX_MAGNITUDE),
    "support_ticket": (0.0, MAX_MAGNITUDE),
    "survey_nps": (0.0, 10.0),
    "survey_csat": (1.0, 5.0),
}


def _pandera_column(spec: ColumnSpec) -> pa.Column:
    import pandera.pandas as pa  # heavy to import, and only checks of a clean table need it

    checks = []
    if spec.minimum is not None:
        checks.append(pa.Check.ge(spec.minimum))
    if spec.maximum is not None:
        checks.append(pa.Check.le(spec.maximum))
    dtype: object
    if spec.kind == "timestamp":
        dtype = UTC_TIMESTAMP
    elif spec.kind in ("number", "binary"):
        dtype = float
        if spec.kind == "binary":
            checks.append(pa.Check.isin([0.0, 1.0]))
    else:
        dtype = None  # str / category / object: checked by `_is_text` below
        checks.append(pa.Check(_is_text, element_wise=False, error="values must be text"))
    nullable = spec.kind not in ("id",) and not (spec.kind == "timestamp" and spec.required)
    if spec.name in ("event_type", "action", "attribute"):
        nullable = False
    return pa.Column(dtype, checks=checks, nullable=nullable, required=spec.required)


def _is_text(series: pd.Series) -> bool:
    values = series.dropna()
    if isinstance(series.dtype, pd.CategoricalDtype):
        values = pd.Series(series.cat.categories)
    return bool(values.map(lambda v: isinstance(v, str)).all())


def pandera_schema(table: str) -> pa.DataFrameSchema:
    """The pandera schema of a clean contract table."""
    import pandera.pandas as pa

    spec = TABLES[table]
    return pa.DataFrameSchema(
        {c.name: _pandera_column(c) for c in spec.columns},
        strict=not spec.open_columns,
        unique=list(spec.unique) or None,
    )


def check_clean(table: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Raise pandera's SchemaErrors (all failures at once) if `frame` breaks the contract."""
    return pandera_schema(table).validate(frame, lazy=True)
