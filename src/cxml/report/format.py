"""How the report writes numbers, shares, money and dates: one place, so every section agrees
and a missing value always reads as a dash rather than "nan"."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

DASH = "—"


def missing(x: object) -> bool:
    """None, NaN, NaT, ±inf or anything that is not a number."""
    if x is None:
        return True
    try:
        return not np.isfinite(float(x))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return bool(pd.isna(x))


def num(x: Any, digits: int = 0, suffix: str = "", sign: bool = False) -> str:
    """Thousands separators and a real minus sign, so columns of numbers read alike."""
    if missing(x):
        return DASH
    text = f"{float(x):{'+' if sign else ''},.{digits}f}{suffix}"
    return text.replace("-", "−")


def pct(x: Any, digits: int = 1) -> str:
    return DASH if missing(x) else f"{100 * float(x):.{digits}f}%"


def money(x: Any, currency: str = "") -> str:
    """Whole units with the currency prefix after the sign: −€1,234."""
    if missing(x):
        return DASH
    sign = "−" if float(x) < 0 else ""
    return f"{sign}{currency}{abs(float(x)):,.0f}"


def date(value: Any, time: bool = False) -> str:
    """The day, or the day and minute with " UTC" when the stamp is in UTC."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return DASH
    stamp = pd.Timestamp(value)
    if not time:
        return stamp.strftime("%Y-%m-%d")
    zone = " UTC" if stamp.tzinfo is not None and stamp.utcoffset() == pd.Timedelta(0) else ""
    return stamp.strftime("%Y-%m-%d %H:%M") + zone
