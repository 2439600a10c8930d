"""The simple churn baselines a model must beat, fitted on the rows the model learned from.

- recency: days since the last purchase, as it is (longer = more likely gone); nothing fitted.
- RFM logistic regression: log1p of recency, frequency (purchases) and monetary (amount spent),
  both over the longest window, and tenure in days, median-imputed: the marketer's classic.
  A snapshot without purchase events (Telco) has no recency or frequency: it names its
  tenure and monetary columns instead.

Pure: a training frame in (features + label columns, keyed by customer and cutoff), scores out.
`cxml.models.backtest` holds the model's own logistic baseline; the folds here are its folds.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

RECENCY = "days_since_last_purchase_"
FREQUENCY = "n_purchase_"
MONETARY = "amount_purchase_"
TENURE = "tenure_days"


def _longest(columns: Sequence[str], prefix: str) -> str | None:
    """The `{prefix}{days}d` column with the longest window, if any."""
    found = {int(m[1]): c for c in columns if (m := re.fullmatch(re.escape(prefix) + r"(\d+)d", c))}
    return found[max(found)] if found else None


def _varies(frame: pd.DataFrame, column: str | None) -> bool:
    return column is not None and column in frame and frame[column].nunique(dropna=True) > 1


def recency_column(frame: pd.DataFrame) -> str | None:
    """Days since the last purchase (longest window), or None when the frame has no purchase
    history (a snapshot: the column is absent or the same for everyone)."""
    column = _longest(list(frame.columns), RECENCY)
    return column if _varies(frame, column) else None


def recency_score(frame: pd.DataFrame) -> np.ndarray:
    """The recency baseline's score: the days themselves (higher = more likely to churn)."""
    column = recency_column(frame)
    if column is None:
        raise ValueError("no days-since-last-purchase column that varies: no purchase history")
    return frame[column].to_numpy(dtype=float)


def rfm_columns(
    frame: pd.DataFrame, tenure: str | None = None, monetary: Sequence[str] = ()
) -> list[str]:
    """Recency, frequency and monetary over the longest window, then tenure: those the frame has
    and that vary. A snapshot without purchase events names its own `tenure` column (else
    `tenure_days`, when it varies) and its `monetary` columns (e.g. the monthly charges)."""
    names = list(frame.columns)
    found = [_longest(names, prefix) for prefix in (RECENCY, FREQUENCY, MONETARY)]
    chosen = [c for c in found if c is not None and _varies(frame, c)]
    named = [*([tenure] if tenure else []), *monetary]
    missing = [c for c in named if c not in frame]
    if missing:
        raise ValueError(f"columns not in the frame: {', '.join(missing)}")
    if tenure is None and _varies(frame, TENURE):
        tenure = TENURE
    chosen += [c for c in [*([tenure] if tenure else []), *monetary] if c not in chosen]
    if not chosen:
        raise ValueError("no recency, frequency, monetary or tenure column to fit an RFM model on")
    return chosen


def _log1p(x: np.ndarray) -> np.ndarray:
    return np.log1p(np.clip(x, 0, None))  # days, counts and money are never negative


def fit_rfm_logistic(train: pd.DataFrame, y: np.ndarray, columns: Sequence[str]) -> Pipeline:
    """Logistic regression on log1p of `columns`, median-imputed and scaled."""
    model = make_pipeline(
        FunctionTransformer(_log1p),
        SimpleImputer(strategy="median", keep_empty_features=True),
        StandardScaler(),
        LogisticRegression(max_iter=2000),
    )
    return model.fit(train[list(columns)].to_numpy(dtype=float), np.asarray(y, dtype=int))


def rfm_proba(model: Pipeline, frame: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    return np.asarray(
        model.predict_proba(frame[list(columns)].to_numpy(dtype=float))[:, 1], dtype=float
    )


def rfm_out_of_time(
    frame: pd.DataFrame,
    target: str,
    columns: Sequence[str],
    fit_cutoffs: Sequence[pd.Timestamp],
    test_index: pd.Index,
) -> np.ndarray:
    """Fitted on the labelled rows at `fit_cutoffs` (all before the test), scored on
    `test_index`'s rows in that order."""
    at = frame.index.get_level_values("cutoff").isin(list(fit_cutoffs))
    fit = frame[at & frame[target].notna().to_numpy()]
    model = fit_rfm_logistic(fit, fit[target].to_numpy(), columns)
    return rfm_proba(model, frame.loc[test_index], columns)


def rfm_out_of_fold(
    frame: pd.DataFrame, target: str, columns: Sequence[str], folds: int, seed: int
) -> pd.Series:
    """Each labelled row scored by a model fitted on the other folds: the folds of
    `backtest.cross_validated` (stratified, shuffled, `seed`), in its order of rows."""
    labelled = frame[frame[target].notna()]
    kfold = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    parts = []
    for fit_rows, test_rows in kfold.split(labelled, labelled[target]):
        fit, test = labelled.iloc[fit_rows], labelled.iloc[test_rows]
        model = fit_rfm_logistic(fit, fit[target].to_numpy(), columns)
        parts.append(pd.Series(rfm_proba(model, test, columns), index=test.index))
    return pd.concat(parts)
