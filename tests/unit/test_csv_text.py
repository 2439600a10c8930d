"""cxml's CSV writer against pandas' own `to_csv`: the same bytes, so the lists and files users
already read do not change when they are written a column at a time."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cxml.data.csv_text import FORMULA_STARTS, csv_chunks


def pandas_csv(frame: pd.DataFrame) -> bytes:
    """What cxml wrote before: text a spreadsheet would run as a formula after a quote (numbers
    and times left alone), then pandas' `to_csv`."""
    safe = frame.copy(deep=False)
    for i in range(frame.shape[1]):
        column = frame.iloc[:, i]
        if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_datetime64_any_dtype(column):
            continue
        text = column.astype("string")
        risky = text.str.startswith(FORMULA_STARTS).fillna(False).to_numpy(bool)
        if risky.any():
            safe.isetitem(i, column.astype(object).where(~risky, "'" + text.astype(object)))
    return safe.to_csv(index=False).encode()


def written(frame: pd.DataFrame, rows: int = 65_536) -> bytes:
    return b"".join(csv_chunks(frame, rows))


def test_floats_are_written_with_numpys_digits_and_notation():
    """Arrow makes the digits and numpy's notation is kept: every magnitude, whole numbers,
    signed zeros, the edges of scientific notation, infinities and missing values."""
    rng = np.random.default_rng(0)
    n = 20_000
    values = np.concatenate(
        [
            rng.random(n),
            rng.random(n) * 1e-3,
            rng.standard_normal(n) * 1e6,
            np.round(rng.random(n) * 1000),
            10 ** rng.uniform(-12, 25, n),
            -(10 ** rng.uniform(-12, 25, n)),
            rng.integers(-(2**62), 2**62, n).astype(float),
            np.frombuffer(rng.bytes(8 * n), dtype=np.float64),  # any bit pattern
            [0.0, -0.0, np.nan, np.inf, -np.inf, 1e16, 1e-4, 9.999999999999999e15, 1e15],
            [123456789012345.67, 2.0**53, 5e-324, 1e-5, 0.1, 1 / 3, 1e21, 1e22],
        ]
    )
    frame = pd.DataFrame({"x": values, "y": values[::-1]})
    assert written(frame) == pandas_csv(frame)


def odd_frame() -> pd.DataFrame:
    """Every kind of column a cxml output holds, and the cells that need care."""
    texts = ["a", "", None, 'q"x', "c,d", "n\nl", "r\rx", " sp", "=cmd", "-3", "+x", "@a"]
    texts += ["\tt", "'q", np.nan, "é", '"']
    n = len(texts)
    return pd.DataFrame(
        {
            "text": texts,
            "int": np.arange(n) - 5,
            "bool": [True, False] * (n // 2) + [True],
            "float": np.linspace(-1, 1, n),
            "utc": pd.to_datetime(["2025-06-30"] * (n - 1) + [None]).tz_localize("UTC"),
            "naive": pd.to_datetime(
                ["2025-06-30 12:00:01.5"] * (n - 2) + [None, "2024-01-01 00:00:00.000"]
            ),
            "duration": pd.to_timedelta([*range(n - 1), None], unit="D"),
            "mixed": [1, 2.5, "x", None, True, -4, "-q", *range(3, 13)],
            "category": pd.Categorical(["a", "=b", None] * (n // 3) + ["a", "a"]),
            "nullable_bool": pd.array([True, None] * (n // 2) + [False], dtype="boolean"),
            "nullable_int": pd.array([*range(n - 1), None], dtype="Int64"),
            "float32": np.linspace(0, 1, n, dtype=np.float32),
        }
    )


def test_every_kind_of_column_is_written_as_pandas_writes_it():
    frame = odd_frame()
    assert written(frame) == pandas_csv(frame)
    assert written(frame, rows=5) == pandas_csv(frame)  # in pieces: the same text


@pytest.mark.parametrize("name", list(odd_frame().columns))
def test_a_column_alone_is_written_as_pandas_writes_it(name):
    """One column alone: Python's csv then writes a row of one empty cell as ""."""
    frame = odd_frame()[[name]]
    assert written(frame) == pandas_csv(frame)


def test_empty_frames_and_plain_names_are_written_as_pandas_writes_them():
    frame = odd_frame()
    for shape in (frame.head(0), pd.DataFrame(index=[0, 1]), pd.DataFrame()):
        assert written(shape) == pandas_csv(shape)
    numbered = pd.DataFrame({0: [1.5], "a b": ["x"], "a": ["y"]}).rename(columns={"a": "a b"})
    assert written(numbered) == pandas_csv(numbered)  # a number and a repeated name


def test_a_frame_with_nested_columns_is_refused():
    nested = pd.DataFrame([[1, 2]], columns=pd.MultiIndex.from_tuples([("a", "b"), ("a", "c")]))
    with pytest.raises(ValueError, match="one header row"):
        written(nested)
