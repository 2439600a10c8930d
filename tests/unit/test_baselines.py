"""The simple baselines on small frames whose answer is known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

from cxml.models.baselines import (
    recency_column,
    recency_score,
    rfm_columns,
    rfm_out_of_fold,
    rfm_out_of_time,
)

CUTOFFS = pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01"], utc=True)


def history_frame(n: int = 400, seed: int = 0) -> pd.DataFrame:
    """Customers at three cutoffs; the longer since the last purchase, the likelier to churn."""
    rng = np.random.default_rng(seed)
    parts = []
    for cutoff in CUTOFFS:
        days = rng.uniform(0, 365, n)
        churn = (rng.uniform(size=n) < days / 400).astype(float)
        parts.append(
            pd.DataFrame(
                {
                    "days_since_last_purchase_365d": days,
                    "days_since_last_login_365d": np.full(n, 365.0),
                    "n_purchase_30d": rng.poisson(1, n),
                    "n_purchase_365d": rng.poisson(5, n),
                    "amount_purchase_365d": rng.gamma(2, 50, n),
                    "tenure_days": np.where(rng.uniform(size=n) < 0.1, np.nan, 500.0 + days),
                    "churn": churn,
                },
                index=pd.MultiIndex.from_product(
                    [[f"C{i}" for i in range(n)], [cutoff]], names=["customer_id", "cutoff"]
                ),
            )
        )
    return pd.concat(parts)


def snapshot_frame() -> pd.DataFrame:
    frame = history_frame().xs(CUTOFFS[0], level="cutoff", drop_level=False)
    return frame.assign(
        days_since_last_purchase_365d=365.0,
        n_purchase_365d=0,
        amount_purchase_365d=0.0,
        profile_MonthlyCharges=frame["churn"] * 20 + 50,
    )


def test_rfm_columns_take_the_longest_window_and_tenure():
    assert rfm_columns(history_frame()) == [
        "days_since_last_purchase_365d",
        "n_purchase_365d",
        "amount_purchase_365d",
        "tenure_days",
    ]


def test_a_snapshot_has_no_recency_and_names_its_money():
    frame = snapshot_frame()
    assert recency_column(frame) is None
    with pytest.raises(ValueError, match="no purchase history"):
        recency_score(frame)
    assert rfm_columns(frame, monetary=["profile_MonthlyCharges"]) == [
        "tenure_days",
        "profile_MonthlyCharges",
    ]
    frame["profile_tenure"] = frame["tenure_days"] // 30
    assert rfm_columns(frame, "profile_tenure", ["profile_MonthlyCharges"]) == [
        "profile_tenure",
        "profile_MonthlyCharges",
    ]
    with pytest.raises(ValueError, match="profile_TotalCharges"):
        rfm_columns(frame, monetary=["profile_TotalCharges"])


def test_recency_ranks_by_days_since_the_last_purchase():
    frame = history_frame()
    assert recency_column(frame) == "days_since_last_purchase_365d"
    assert roc_auc_score(frame["churn"], recency_score(frame)) > 0.65


def test_out_of_fold_scores_every_labelled_row_once_in_the_backtests_fold_order():
    frame = snapshot_frame()
    frame.iloc[:10, frame.columns.get_loc("churn")] = np.nan  # unlabelled rows are not scored
    columns = rfm_columns(frame, monetary=["profile_MonthlyCharges"])
    scores = rfm_out_of_fold(frame, "churn", columns, folds=5, seed=7)
    labelled = frame[frame["churn"].notna()]
    kfold = StratifiedKFold(n_splits=5, shuffle=True, random_state=7)
    order = np.concatenate([test for _, test in kfold.split(labelled, labelled["churn"])])
    assert scores.index.equals(labelled.index[order])
    assert ((scores > 0) & (scores < 1)).all()
    assert roc_auc_score(labelled.loc[scores.index, "churn"], scores) > 0.9  # money tells here


def test_out_of_time_learns_only_from_the_fitting_cutoffs():
    frame = history_frame()
    test_index = frame.index[frame.index.get_level_values("cutoff") == CUTOFFS[-1]]
    columns = rfm_columns(frame)
    scores = rfm_out_of_time(frame, "churn", columns, CUTOFFS[:2], test_index)
    assert len(scores) == len(test_index)
    assert roc_auc_score(frame.loc[test_index, "churn"], scores) > 0.65
    flipped = frame.copy()
    flipped.loc[test_index, "churn"] = 1 - flipped.loc[test_index, "churn"]  # the test's answers
    again = rfm_out_of_time(flipped, "churn", columns, CUTOFFS[:2], test_index)
    np.testing.assert_array_equal(scores, again)
