"""A frame as the CSV text pandas' `to_csv(index=False)` writes, byte for byte, made a column
at a time: pandas formats and quotes every cell in Python, which made writing the scored list
a fifth of scoring a base. Text a spreadsheet would run as a formula is neutralised on the way
(`FORMULA_STARTS`).

A column becomes one Arrow string array: float64 by Arrow's shortest round-trip digits, put
in numpy's notation (what pandas writes); any other column's distinct values are formatted
by pandas itself, once each. The cells are then quoted as Python's csv writer quotes them and
joined into lines in C++.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

#: A leading =, +, -, @, tab or carriage return makes a spreadsheet run a cell as a formula
#: (OWASP's CSV-injection rule): such text is written after a quote, so it is shown, not run.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_FORMULA = "^(" + "|".join(re.escape(start) for start in FORMULA_STARTS) + ")"
#: What Python's csv writer quotes with pandas' settings (minimal quoting, "\n" line ends).
_NEEDS_QUOTES = '[,"\n]'
#: Rows formatted at once: a big list is written in pieces of bounded memory.
ROWS = 65_536


def csv_chunks(frame: pd.DataFrame, rows: int = ROWS) -> Iterator[bytes]:
    """The CSV text of `frame` (header, then one line per row; no index) in UTF-8 pieces."""
    if isinstance(frame.columns, pd.MultiIndex):
        raise ValueError("a CSV of cxml has one header row: flatten the columns first")
    yield _header(frame.columns)
    frame = _times_as_text(frame)
    for start in range(0, len(frame), rows):
        yield _lines(frame.iloc[start : start + rows])


def _times_as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Times without a zone, and durations, written as text first: pandas picks one format for
    the values it formats at once (no time of day when none has one), so the whole column
    decides, not a piece. (cxml's own times are UTC, which pandas writes one by one.)"""
    kinds = [frame.iloc[:, i].dtype for i in range(frame.shape[1])]
    local = [i for i, kind in enumerate(kinds) if isinstance(kind, np.dtype) and kind.kind in "mM"]
    if not local:
        return frame
    frame = frame.copy(deep=False)
    for i in local:
        codes, distinct = pd.factorize(frame.iloc[:, i], use_na_sentinel=True)
        words = np.array([*_pandas_texts(distinct), None], dtype=object)
        frame.isetitem(i, pd.Series(words[codes], index=frame.index, dtype=object))
    return frame


def _is_text(column: pd.Series) -> bool:
    numeric = pd.api.types.is_numeric_dtype(column)
    return not (numeric or pd.api.types.is_datetime64_any_dtype(column))


def _header(names: pd.Index) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow([str(name) for name in names])
    return out.getvalue().encode()


def _lines(frame: pd.DataFrame) -> bytes:
    cells = [_cells(frame.iloc[:, i]) for i in range(frame.shape[1])]
    if not cells:
        return b"\n" * len(frame)
    if len(cells) == 1:  # Python's csv writes a row of one empty field as ""
        only = cells[0].fill_null(_t(""))
        cells[0] = pc.if_else(pc.equal(only, _t("")), _t('""'), only)
    lines = pc.binary_join_element_wise(*cells, _t(","), null_handling="replace")
    return _joined(pc.binary_join_element_wise(lines, _t("\n"), _t("")))


def _cells(column: pd.Series) -> pa.Array:
    """Each cell of `column` as it is written, null where nothing is: formatted as pandas
    formats it, and text guarded against formulas and quoted. A column of few values is
    formatted once per value."""
    if column.dtype == np.float64:
        return _float_texts(column.to_numpy())
    if isinstance(column.dtype, np.dtype) and column.dtype.kind in "iu":
        return pc.cast(pa.array(column.to_numpy()), pa.large_string())
    text = _is_text(column)
    if column.dtype == object:
        if pd.api.types.infer_dtype(column) == "string":
            return _written(pa.array(column.to_numpy(), pa.large_string(), from_pandas=True), text)
        # mixed Python objects, each written as pandas writes it (1 and True are one key)
        return _written(pa.array(_pandas_texts(column), pa.large_string()), text)
    codes, distinct = pd.factorize(column, use_na_sentinel=True)
    words = _written(pa.array(_pandas_texts(distinct), pa.large_string()), text)
    return words.take(pa.array(codes, mask=codes < 0))


def _written(texts: pa.Array, text: bool) -> pa.Array:
    """Text guarded and quoted; numbers and times need neither."""
    return _quoted(_formula_guarded(texts)) if text else texts


def _pandas_texts(values: pd.Index | np.ndarray | pd.api.extensions.ExtensionArray) -> list[str]:
    """How pandas writes each of `values` (none missing) in a CSV: what it writes, read back."""
    text = pd.DataFrame({"v": values}).to_csv(index=False, header=False)
    return [row[0] if row else "" for row in csv.reader(io.StringIO(text))]


def _float_texts(values: np.ndarray) -> pa.Array:
    """numpy's text of each float (what pandas writes: the shortest digits that read back
    the same, '1.0' for a whole number, scientific below 1e-4 and from 1e16), null for NaN.
    Arrow makes the digits; the few values where its notation differs are made by numpy."""
    texts = pc.cast(pa.array(values, from_pandas=True), pa.large_string())
    size = np.abs(values)
    small, large = (size < 1e-4) & (size > 0), (size >= 1e16) | np.isinf(values)
    numpy_notation = small | large | _has(texts, "e", missing=False)
    whole = ~_has(texts, ".", missing=True)
    whole &= ~numpy_notation
    if whole.any():
        with_point = pc.binary_join_element_wise(texts, _t(".0"), _t(""))
        texts = pc.if_else(whole, with_point, texts)
    redo = np.flatnonzero(numpy_notation)
    if len(redo) == 0:
        return texts
    fixed = np.asarray(texts.to_numpy(zero_copy_only=False), dtype=object)
    fixed[redo] = values[redo].astype(str)
    return pa.array(fixed, type=pa.large_string())


def _has(texts: pa.Array, part: str, missing: bool) -> np.ndarray:
    return pc.match_substring(texts, part).fill_null(missing).to_numpy(zero_copy_only=False)


def _formula_guarded(texts: pa.Array) -> pa.Array:
    risky = pc.match_substring_regex(texts, _FORMULA)
    if not pc.any(risky).as_py():
        return texts
    return pc.if_else(risky, pc.binary_join_element_wise(_t("'"), texts, _t("")), texts)


def _quoted(texts: pa.Array) -> pa.Array:
    """Quoted where Python's csv writer quotes (a comma, a quote or a line end inside), its
    quotes doubled; a missing value stays null (written as nothing)."""
    needs = pc.match_substring_regex(texts, _NEEDS_QUOTES)
    if not pc.any(needs).as_py():
        return texts
    escaped = pc.binary_join_element_wise(
        _t('"'), pc.replace_substring(texts, '"', '""'), _t('"'), _t("")
    )
    return pc.if_else(needs, escaped, texts)


def _t(text: str) -> pa.Scalar:
    """A text of the cells' type (Arrow joins only like with like)."""
    return pa.scalar(text, pa.large_string())


def _joined(lines: pa.Array) -> bytes:
    """The values of a large string array (none missing; every text here is one, `_t`) one
    after another: the span of its data buffer that its offsets cover."""
    if len(lines) == 0:
        return b""
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64)  # a large string's offsets
    start, end = int(offsets[lines.offset]), int(offsets[lines.offset + len(lines)])
    return lines.buffers()[2].slice(start, end - start).to_pybytes()
