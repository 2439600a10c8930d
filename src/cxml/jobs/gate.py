"""The champion gate: a new version replaces the champion only when it is better on the very
rows it was judged on. Each run's own logged metric comes from its own test rows; comparing
two such numbers compares two samples, not two models."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from cxml.features.table import Table
from cxml.models.backtest import LABELS, TargetResult
from cxml.models.evaluate import binary_metrics

#: (the champion's value of the metric on the challenger's test rows, how many rows)
Judge = Callable[[Any], tuple[float, int] | None]


def same_rows_judge(
    frame: pd.DataFrame, results: dict[str, TargetResult], metric: str
) -> Judge | None:
    """How to score a champion bundle on these test rows by `metric` (`<target>_<name>` of
    `binary_metrics`), or None when the metric is not of that form. The judge answers None
    for a champion that had already learned from the labels of these rows (then only the
    logged metrics can be compared)."""
    target = next((t for t in results if metric.startswith(f"{t}_")), None)
    if target is None:
        return None
    name, result = metric.removeprefix(f"{target}_"), results[target]
    rows = frame.loc[result.index].drop(columns=[c for c in LABELS if c in frame])
    first_test = pd.Timestamp(result.index.get_level_values("cutoff").min())

    def judge(champion: Any) -> tuple[float, int] | None:
        until = champion.info.get("labelled_until")
        if until is None or pd.Timestamp(str(until)) > first_test:
            return None
        if not set(champion.feature_names) <= set(rows.columns):
            return None
        matrix = champion.encode(Table.of(rows))
        p = champion.probabilities(matrix)[f"{target}_probability"]
        value = binary_metrics(result.y, p).get(name)
        return None if value is None or not np.isfinite(value) else (float(value), len(rows))

    return judge
