"""What a single value may be, as vector checks: text without a NUL byte or a stray line break,
numbers finite and of a sane size, times spelled as dates and inside the contract's range.

Pure functions returning masks or parsed columns; `validate.py` turns them into quarantined
rows with reasons. Each distinct value is looked at once where that is the cost.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import numpy as np
import pandas as pd

from cxml.data.schema import MAX_MAGNITUDE, TIME_RANGE

NUL = "holds a NUL byte (a binary or damaged export): remove it at the source"
LINE_BREAK = "holds a line break (a quote left open in the file joins lines): fix the quoting"
OUT_OF_TIME = f"outside {TIME_RANGE} (a typo, or a placeholder for unknown: leave it empty)"
TOO_LARGE = f"infinite, or of magnitude above {MAX_MAGNITUDE:g}"
NOT_A_TIME = "not a timestamp (use ISO 8601, e.g. 2024-05-31T14:00:00Z)"
#: A customers text column is read as numbers when at least this share of its non-empty values
#: are numbers (as a CSV of a numeric column is); the rest are quarantined, naming the column.
NUMERIC_SHARE = 0.9
WITH_YEAR = r"(?<!\d)\d{4}(?!\d)"  # a four-digit year somewhere in the text
DAY_OR_MONTH = r"\s*\d{1,2}[/.\-]\d{1,2}[/.\-]\d{2,4}"  # 05/06/2024: May or June?


#: A text column as each row's code (-1: missing) and its distinct values: what the checks
#: below read, so a column checked several times finds its distinct values once (`distinct`).
Texts = tuple[np.ndarray, pd.Index]


def distinct(series: pd.Series) -> Texts:
    """`series` as `Texts` (a categorical's codes and categories as they are)."""
    if isinstance(series.dtype, pd.CategoricalDtype):  # its categories are the distinct values
        return series.cat.codes.to_numpy(), series.cat.categories
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    return codes, pd.Index(uniques)


def _texts(texts: pd.Series | Texts) -> Texts:
    return texts if isinstance(texts, tuple) else distinct(texts)


def stripped(series: pd.Series) -> tuple[pd.Series, Texts]:
    """Each value as text without surrounding spaces, missing kept missing; and the same as
    `Texts`, for the column's checks. Each distinct value is converted once: ids, types and
    channels repeat, so millions of rows cost a gather. A categorical stays one (its categories
    stripped, those equal once stripped merged). A column of texts that are already so is
    returned as it is: no copy of millions of rows."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        column = _stripped_categories(series)
        return column, distinct(column)
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    texts_stripped = pd.Index(uniques).astype(str).str.strip()
    merged, texts_once = pd.factorize(texts_stripped)  # texts equal once stripped are one
    checked = (np.append(merged, -1)[codes], texts_once)
    unchanged = series.dtype == object and texts_stripped.equals(pd.Index(uniques))
    if unchanged and (series.to_numpy()[codes < 0] == None).all():  # noqa: E711 (None, not NaN)
        return series, checked
    texts = np.empty(len(uniques) + 1, dtype=object)  # the last slot, None, for code -1
    texts[:-1] = texts_stripped.to_numpy(dtype=object)
    return pd.Series(texts[codes], index=series.index, dtype=object), checked  # -1: None


def _stripped_categories(series: pd.Series) -> pd.Series:
    categories = series.cat.categories
    texts = pd.Index(categories.astype(str).str.strip())
    if texts.equals(categories):
        return series
    if texts.is_unique:
        return series.cat.rename_categories(texts)
    merged, uniques = pd.factorize(texts)
    codes = np.append(merged, -1)[series.cat.codes.to_numpy()]  # code -1 stays missing
    return pd.Series(pd.Categorical.from_codes(codes, uniques), index=series.index)


def per_text(texts: pd.Series | Texts, test: Callable[[pd.Index], object]) -> np.ndarray:
    """Per value: `test` of its text, evaluated once per distinct value (ids, types and
    channels repeat, so millions of rows cost one gather); a missing value reads False."""
    codes, uniques = _texts(texts)
    if not len(uniques):
        return np.zeros(len(codes), dtype=bool)
    text = uniques if uniques.inferred_type == "string" else uniques.astype(str)  # inferred once
    found = np.asarray(test(text), bool)
    if not found.any():  # the usual answer of a check: no row to look up
        return np.zeros(len(codes), dtype=bool)
    return np.append(found, False)[codes]  # code -1 (missing) reads the last slot


def has_char(texts: pd.Series | Texts, char: str) -> np.ndarray:
    """Per value: whether its text holds `char`."""

    def holds(text: pd.Index) -> object:
        if char not in "".join(text.to_numpy().tolist()):  # one pass in C: the usual answer
            return np.zeros(len(text), dtype=bool)
        return text.str.contains(char, regex=False)

    return per_text(texts, holds)


def is_blank(texts: pd.Series | Texts) -> np.ndarray:
    """Per value: missing or the empty text."""
    codes, uniques = _texts(texts)
    return (codes < 0) | per_text((codes, uniques), lambda text: text == "")


def too_large(number: pd.Series) -> np.ndarray:
    """Per number: infinite or beyond MAX_MAGNITUDE (sums of such values overflow)."""
    values = number.to_numpy(dtype=float, na_value=np.nan)
    # two comparisons, not np.abs: no float copy of a column of a whole events table
    return (values > MAX_MAGNITUDE) | (values < -MAX_MAGNITUDE)  # NaN compares False


def read_times(text: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Stripped text as UTC times, and which values are ISO 8601 times pandas cannot hold
    (years outside 1677..2262, e.g. 2999: out of range, not unreadable). ISO 8601 first; other
    spellings of a full date ("31 May 2024 14:00") too, but never a guess: a time of day alone
    would read as today, and 05/06/2024 as May or June."""
    parsed = pd.to_datetime(text, utc=True, errors="coerce", format="ISO8601")
    failed = text[parsed.isna() & text.notna()]
    spelled = failed.str.contains(WITH_YEAR) & ~failed.str.match(DAY_OR_MONTH)
    retry = failed.index[spelled.fillna(False).to_numpy(bool)]
    if len(retry):
        parsed[retry] = pd.to_datetime(text[retry], utc=True, errors="coerce", format="mixed")
    unread = (parsed.isna() & text.notna() & (text != "")).to_numpy(bool)
    dated = {value for value in text[unread].unique() if _is_iso(str(value))}
    return parsed, unread & text.isin(dated).to_numpy(bool)


def _is_iso(value: str) -> bool:
    """Python reads ISO 8601 for years 1 to 9999."""
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def numbers_in_text(values: pd.Series) -> pd.Series | None:
    """A text column (stripped, missing kept) as floats when it holds numbers (NUMERIC_SHARE
    of its non-empty values), the rest NaN; None when it is text."""
    given = values.notna() & (values != "")
    number = pd.to_numeric(values.where(given), errors="coerce").astype(float)
    if not given.any() or number[given].notna().mean() < NUMERIC_SHARE:
        return None
    return number
