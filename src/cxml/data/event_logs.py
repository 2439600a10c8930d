"""Any event log into the data contract: a transaction export (`import_transactions`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from cxml.data.sources import (
    Fault,
    ImportResult,
    bad_value,
    finish,
    make_events,
    not_a_number,
    parse_time,
    read_source,
    reasons,
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
