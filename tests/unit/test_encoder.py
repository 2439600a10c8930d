"""FrameEncoder: a few rows (looked up one by one) encode exactly as many rows (pandas' lookup),
for every kind of value a text column can hold."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cxml.models.train import SMALL, FrameEncoder

TRAIN = pd.DataFrame(
    {
        "plan": ["basic", "premium", None, "basic"],
        "region": pd.Categorical(["north", "south", "south", None]),
        "mixed": ["1", "2.5", "True", "x"],  # levels that read like other types
        "spend": [1.0, np.nan, 3.0, 4.0],
    }
)
ODD = pd.DataFrame(
    {
        "plan": ["premium", "gold", None, np.nan, "basic"],  # gold: never seen
        "region": pd.Categorical(["south", None, "west", "north", "north"]),
        "mixed": [1, 2.5, True, b"x", "y"],  # not text: each read as its text
        "spend": [np.nan, 2.0, 0.0, -1.0, 5.5],
    },
    index=["a", "b", "c", "d", "e"],
)


def test_few_rows_encode_exactly_as_many() -> None:
    encoder = FrameEncoder().fit(TRAIN)
    many = pd.concat([ODD] * (SMALL // len(ODD) + 1))
    assert len(many) > SMALL
    expected = encoder.transform(many)[: len(ODD)]
    np.testing.assert_array_equal(encoder.transform(ODD), expected)
    for i in range(len(ODD)):  # one row at a time, as the endpoint encodes
        np.testing.assert_array_equal(encoder.transform(ODD.iloc[[i]]), expected[[i]])


def test_unseen_or_missing_levels_are_missing_and_known_ones_are_codes() -> None:
    matrix = FrameEncoder().fit(TRAIN).transform(ODD)
    plan = matrix[:, 0]
    np.testing.assert_array_equal(plan, [1.0, np.nan, np.nan, np.nan, 0.0])
    mixed = matrix[:, 2]  # levels sorted: "1", "2.5", "True", "x"
    np.testing.assert_array_equal(mixed, [0.0, 1.0, 2.0, 3.0, np.nan])


def test_few_rows_read_numbers_exactly_as_many() -> None:
    numbers = pd.DataFrame(
        {
            "float": [0.1, np.nan, -0.0, 1e300, 2.5],
            "int": np.array([1, 2**53 + 1, -3, 0, 7], dtype=np.int64),  # beyond float precision
            "flag": [True, False, True, True, False],
            "nullable": pd.array([1, None, 3, 4, 5], dtype="Int64"),
            "single": np.array([0.1, 0.2, np.nan, 4.0, 5.0], dtype=np.float32),
            "plan": ["basic", "premium", None, "basic", "gold"],
        },
        index=["a", "b", "c", "d", "e"],
    )
    encoder = FrameEncoder().fit(numbers)
    assert list(encoder.levels_) == ["plan"]
    shuffled = numbers[["plan", *reversed(numbers.columns[:-1])]]  # columns in another order
    many = pd.concat([shuffled] * (SMALL // len(numbers) + 1))
    expected = encoder.transform(many)[: len(numbers)]
    np.testing.assert_array_equal(encoder.transform(shuffled), expected)
    for i in range(len(numbers)):
        np.testing.assert_array_equal(encoder.transform(shuffled.iloc[[i]]), expected[[i]])
    assert expected[1, 1] == float(2**53 + 1) and np.isnan(expected[1, 3])


def test_nullable_and_large_integer_columns_encode_exactly() -> None:
    """pd.NA is missing, a flag is 0/1, and an integer past 2**53 keeps its float value."""
    numbers = pd.DataFrame(
        {
            "int": np.array([1, 2**53 + 1], dtype=np.int64),
            "nullable": pd.array([None, 3], dtype="Int64"),  # an object array with pd.NA
            "flag": [True, False],
        }
    )
    matrix = FrameEncoder().fit(numbers).transform(numbers)
    assert matrix[1, 0] == float(2**53 + 1) and np.isnan(matrix[0, 1]) and matrix[1, 1] == 3
    np.testing.assert_array_equal(matrix[:, 2], [1.0, 0.0])
