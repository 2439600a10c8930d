"""Turn a backtest into the numbers and tables a training run records (`cxml.report.figures`
draws the plots from these tables).

Metric names are `<target>_<metric>` for the calibrated LightGBM, `<target>_baseline_<metric>`
for the logistic regression, `<target>_uncalibrated_ece`, and `<target>_oracle_roc_auc` where
the simulator's truth gives the best any model could do on the same rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cxml.models.backtest import Backtest, TargetResult
from cxml.models.choice import RiskModel
from cxml.models.evaluate import (
    binary_metrics,
    expected_calibration_error,
    gains_table,
    metrics_by_segment,
    reliability_table,
)

ORACLE_COLUMNS = {"churn": "p_churn_observed", "satisfaction_drop": "p_satisfaction_drop"}


def _oracle(result: TargetResult, truth: pd.DataFrame | None) -> dict[str, float]:
    column = ORACLE_COLUMNS.get(result.target)
    if truth is None or column not in truth:
        return {}
    ids = result.index.get_level_values("customer_id").astype(str)
    best = truth[column].reindex(ids).to_numpy(dtype=float)
    known = ~np.isnan(best)
    if not known.all():
        raise ValueError(f"truth has no {column} for {int((~known).sum())} test rows")
    oracle = binary_metrics(result.y, best)
    return {
        f"{result.target}_oracle_roc_auc": oracle["roc_auc"],
        f"{result.target}_oracle_brier": oracle["brier"],
        f"{result.target}_truth_mean": float(best.mean()),
    }


def _segments(
    result: TargetResult, frame: pd.DataFrame, segments: tuple[str, ...]
) -> dict[str, pd.DataFrame]:
    tables = {}
    rows = frame.loc[result.index]
    for name in segments:
        column = name if name in rows else f"profile_{name}"
        if column not in rows:
            raise ValueError(f"evaluation.segments: no feature column '{name}' to segment by")
        table = metrics_by_segment(result.y, result.model, rows[column].astype(object))
        tables[f"{result.target}_by_{name}"] = table.reset_index()
    return tables


def _candidates(result: TargetResult) -> dict[str, float]:
    """Each candidate's mean AUC on the held-out rows the model was chosen on."""
    kinds = {kind for choice in result.choices for kind in choice.aucs}
    return {
        f"{result.target}_heldout_auc_{kind}": float(
            np.nanmean([choice.aucs[kind] for choice in result.choices])
        )
        for kind in sorted(kinds)
    }


def describe_choice(model: RiskModel) -> str:
    """What was shipped and why, in words: 'blend (held-out AUC: logistic 0.701, blend 0.712,
    boosted 0.709); calibration: sigmoid'."""
    scores = ", ".join(f"{kind} {auc:.3f}" for kind, auc in model.heldout_auc_.items())
    return f"{model.kind} (held-out AUC: {scores}); calibration: {model.method_}"


def evaluation_report(
    backtest: Backtest,
    frame: pd.DataFrame,
    truth: pd.DataFrame | None,
    segments: tuple[str, ...] = (),
) -> tuple[dict[str, float], dict[str, pd.DataFrame]]:
    """Metrics and tables (`<target>_reliability`, `<target>_gains`, by segment) for every
    target."""
    metrics: dict[str, float] = {}
    tables: dict[str, pd.DataFrame] = {}
    for target, result in backtest.results.items():
        ours = binary_metrics(result.y, result.model)
        metrics |= {f"{target}_{k}": v for k, v in ours.items()}
        baseline = binary_metrics(result.y, result.baseline)
        metrics |= {f"{target}_baseline_{k}": v for k, v in baseline.items()}
        metrics[f"{target}_uncalibrated_ece"] = expected_calibration_error(result.y, result.raw)
        metrics[f"{target}_best_iteration"] = float(np.mean(result.best_iterations))
        metrics |= _candidates(result)
        metrics |= _oracle(result, truth)
        tables[f"{target}_reliability"] = reliability_table(result.y, result.model)
        tables[f"{target}_gains"] = gains_table(result.y, result.model)
        tables |= _segments(result, frame, segments)
    return metrics, tables
