"""Monitoring a registered model between trainings: how well it should be doing now, judged from
its own calibrated probabilities before any label arrives, and how its earlier scorings turned
out once their outcome windows closed.

The estimate before labels is confidence-based performance estimation (CBPE): if each calibrated
probability p is the chance that customer churns, the outcomes are independent draws y ~
Bernoulli(p), and the metrics a labelled future would show can be computed in expectation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from cxml.config import NO_ACTION, LabelConfig, MonitorConfig
from cxml.features.labels import churn_labels
from cxml.models.evaluate import bin_of, binary_metrics


def expected_auc(p: npt.ArrayLike) -> float:
    """The expected share of correctly ordered (churner, stayer) pairs when each customer churns
    with their probability p, independently: Σ p_i (1 − p_j) over pairs with p_i > p_j (ties
    count half), divided by Σ p_i (1 − p_j) over all pairs i ≠ j. A ratio of expectations, so
    it matches the mean realised AUC to O(1/n). Exact, O(n log n) from the sorted p; NaN when
    no pair can be a (churner, stayer) pair."""
    probability = np.asarray(p, dtype=float).ravel()
    if not np.isfinite(probability).all() or ((probability < 0) | (probability > 1)).any():
        raise ValueError("expected_auc needs probabilities between 0 and 1, with no NaN")
    values, counts = np.unique(probability, return_counts=True)  # ascending
    stay = counts * (1 - values)  # expected stayers at each distinct value
    stay_below = np.cumsum(stay) - stay
    # a churner at value v against every stayer below it, and half of those tied with it
    # (less itself: a customer is never paired with themselves)
    correct = counts * values * (stay_below + 0.5 * (stay - (1 - values)))
    pairs = probability.sum() * (1 - probability).sum() - np.sum(probability * (1 - probability))
    return float(correct.sum() / pairs) if pairs > 0 else float("nan")


def ece_by_chance(p: npt.ArrayLike, bins: int = 10) -> float:
    """The calibration error (ECE over `bins` equal-width bins, as `binary_metrics` computes
    it) a perfectly calibrated model still shows on these customers from chance alone: in each
    bin the gap Σ (y − p) has mean 0 and variance Σ p (1 − p), so its expected size is about
    √(2/π · Σ p (1 − p)) (the normal approximation). A realised ECE near this is noise; well
    above it, miscalibration."""
    probability = np.asarray(p, dtype=float).ravel()
    if len(probability) == 0:
        return float("nan")
    which = bin_of(probability, bins)
    variance = np.bincount(which, weights=probability * (1 - probability), minlength=bins)
    return float(np.sum(np.sqrt(2 / np.pi * variance)) / len(probability))


def expected_performance(p: npt.ArrayLike) -> dict[str, float]:
    """What the calibrated probabilities alone say about the coming outcome window: expected
    AUC, expected churners (with the standard deviation of their count) and churn rate, and
    the calibration error chance alone would show."""
    probability = np.asarray(p, dtype=float).ravel()
    return {
        "customers": float(len(probability)),
        "expected_auc": expected_auc(probability),
        "expected_churners": float(probability.sum()),
        "churners_sd": float(np.sqrt(np.sum(probability * (1 - probability)))),
        "expected_churn_rate": float(probability.mean()) if len(probability) else float("nan"),
        "ece_by_chance": ece_by_chance(probability),
    }


@dataclass(frozen=True)
class Scoring:
    """An earlier scoring: where it was found (an MLflow run or a folder), the model version
    that made it, its cutoff, and its rows (customer_id, cutoff, churn_probability, and action
    when the model recommended actions), read each time they are asked for (`read`): a year of
    weekly scorings of a big base is then judged one at a time, never held at once."""

    source: str
    model_version: str
    cutoff: pd.Timestamp
    read: Callable[[], pd.DataFrame]
    #: how many customers it scored, when that is known without reading its rows (a registry
    #: run's metric): a scoring still waiting for its outcomes is then not read at all
    customers: int | None = None

    @classmethod
    def of(cls, source: str, model_version: str, rows: pd.DataFrame) -> Scoring:
        """A scoring whose rows are in memory already."""
        at = pd.Timestamp(rows["cutoff"].iloc[0])
        return cls(source, model_version, at, lambda: rows, len(rows))

    @property
    def rows(self) -> pd.DataFrame:
        return self.read()


@dataclass(frozen=True)
class Outcomes:
    """How earlier scorings turned out: `earlier` per scoring whose window has closed,
    `pending` per scoring still waiting for its outcomes, `decisions` per closed scoring
    whose recommended customers were acted on; `older`: how many closed scorings were left
    unjudged, older than the `judged` newest."""

    earlier: pd.DataFrame
    pending: pd.DataFrame
    decisions: pd.DataFrame
    older: int = 0


def outcomes(
    scorings: Iterable[Scoring],
    events: pd.DataFrame,
    customers: pd.DataFrame,
    labels: LabelConfig,
    actions_log: pd.DataFrame | None = None,
    control: str = NO_ACTION,
    judged: int | None = None,
    version: str | None = None,
) -> Outcomes:
    """Realised AUC, calibration and lift of every scoring whose outcome window
    [cutoff, cutoff + horizon) the event log covers (the `judged` newest of them by cutoff; None:
    all), against who actually churned by the label definition `labels`; and, where the
    actions log shows the recommended customers were acted on inside that window, how they
    fared (`decision_impact`). The newest closed scoring of model `version` is judged even
    when older than the `judged` newest: it is the one a monitor's thresholds read, and newer
    scorings of other versions must not leave them nothing to judge."""
    last_seen = events["event_time"].max() if len(events) else None
    horizon = pd.Timedelta(days=labels.horizon_days)
    earlier, pending, decisions, read, older = [], [], [], 0, 0
    for scoring in sorted(scorings, key=lambda scoring: scoring.cutoff, reverse=True):
        closes = scoring.cutoff + horizon
        if last_seen is None or closes > last_seen:
            count = len(scoring.rows) if scoring.customers is None else scoring.customers
            pending.append(_names(scoring) | {"customers": count, "closes": closes})
            continue
        monitored = version is not None and str(scoring.model_version) == version
        if judged is not None and read >= judged and not monitored:
            older += 1  # counted, not read
            continue
        read += 1
        if monitored:
            version = None  # its newest is judged; its older ones count as any other
        rows = scoring.rows  # read once; let go when the next scoring is read
        churn = churn_labels(events, customers, scoring.cutoff, labels)
        joined = rows.set_index("customer_id").join(churn, how="inner")
        if joined["churn"].nunique() < 2:
            continue
        earlier.append(_names(scoring) | _realised(joined))
        if actions_log is not None and "action" in joined:
            found = decision_impact(joined, actions_log, scoring.cutoff, horizon, control)
            decisions += [_names(scoring) | row for row in found]
    return Outcomes(pd.DataFrame(earlier), pd.DataFrame(pending), pd.DataFrame(decisions), older)


def _names(scoring: Scoring) -> dict[str, object]:
    return {
        "cutoff": scoring.cutoff,
        "model_version": scoring.model_version,
        "source": scoring.source,
    }


def _realised(joined: pd.DataFrame) -> dict[str, float]:
    y = joined["churn"].to_numpy(int)
    p = joined["churn_probability"].to_numpy(float)
    m = binary_metrics(y, p)
    return {
        "customers": len(joined),
        "expected_churners": float(p.sum()),
        "realised_churners": int(y.sum()),
        "churners_sd": float(np.sqrt(np.sum(p * (1 - p)))),
        "realised_auc": m["roc_auc"],
        "expected_auc": expected_auc(p),
        "ece": m["ece"],
        "ece_by_chance": ece_by_chance(p),
        "lift_top10": m["lift_top10"],
    }


DECISION_GROUPS = (
    "treated as recommended",
    "treated otherwise",
    "recommended, not treated",
)


def decision_impact(
    joined: pd.DataFrame,
    actions_log: pd.DataFrame,
    cutoff: pd.Timestamp,
    horizon: pd.Timedelta,
    control: str = NO_ACTION,
) -> list[dict[str, object]]:
    """For the customers a scoring recommended an action to (`joined`: its rows indexed by
    customer with their realised `churn`): per group (given the recommended action inside
    the outcome window, given another one, given none), how many, the churn rate the model
    expected at the cutoff and the churn rate realised. Empty when no recommended customer
    was acted on. Not a causal effect: who was acted on was not chosen at random."""
    recommended = joined[joined["action"].notna() & ~joined["action"].isin([NO_ACTION, control])]
    log = actions_log[
        (actions_log["action_time"] >= cutoff)
        & (actions_log["action_time"] < cutoff + horizon)
        & (actions_log["action"] != control)
    ]
    ids, who = recommended.index.astype(str), log["customer_id"].astype(str)
    other = ids.isin(who)  # given some action inside the window
    if not other.any():
        return []
    given = pd.MultiIndex.from_arrays([who, log["action"].astype(str)])
    same = pd.MultiIndex.from_arrays([ids, recommended["action"].astype(str)]).isin(given)
    groups = {
        DECISION_GROUPS[0]: same,
        DECISION_GROUPS[1]: other & ~same,
        DECISION_GROUPS[2]: ~other,
    }
    rows: list[dict[str, object]] = []
    for group, mask in groups.items():
        part = recommended[mask]
        expected = float(part["churn_probability"].mean()) if len(part) else float("nan")
        realised = float(part["churn"].mean()) if len(part) else float("nan")
        rows.append(
            {
                "group": group,
                "customers": len(part),
                "expected_churn": expected,
                "realised_churn": realised,
                "gap": realised - expected,
            }
        )
    return rows


@dataclass(frozen=True)
class Alert:
    """A monitoring threshold crossed: which setting, the value seen, and in words."""

    setting: str
    value: float
    threshold: float
    message: str


def alerts(
    drift: pd.DataFrame | None,
    expected: dict[str, float],
    test_auc: float | None,
    latest: dict[str, Any] | None,
    config: MonitorConfig,
) -> list[Alert]:
    """The thresholds of `config` this monitoring crosses: the share of drifted features (in
    `drift_table`), the expected AUC's drop below the test AUC, and the realised AUC and
    calibration error of `latest`, the most recent scoring whose outcomes are known."""
    checks: list[tuple[str, float, str]] = []
    if drift is not None and len(drift):
        moved = int(drift["crossed"].sum())
        checks.append(
            (
                "max_drift_share",
                moved / len(drift),
                f"{moved} of {len(drift)} features drifted (PSI ≥ {config.psi_threshold} "
                "beyond chance): a drift share of {v:.3f}",
            )
        )
    if test_auc is not None:
        auc = expected["expected_auc"]
        words = f"the expected AUC {auc:.3f} is {{v:.3f}} below the test AUC {test_auc:.3f}"
        checks.append(("max_expected_auc_drop", test_auc - auc, words))
    if latest is not None:
        when = f"the scoring of {pd.Timestamp(latest['cutoff']).date()}"
        checks.append(
            ("min_realised_auc", float(latest["realised_auc"]), when + " realised AUC {v:.3f}")
        )
        checks.append(
            ("max_ece", float(latest["ece"]), when + " realised calibration error {v:.3f}")
        )
    found = []
    for setting, value, words in checks:
        limit = float(getattr(config, setting))
        low = setting.startswith("min_")
        if np.isfinite(value) and (value < limit if low else value > limit):
            side = "below" if low else "above"
            text = f"{words.format(v=value)}, {side} {setting} {limit:g}"
            found.append(Alert(setting, value, limit, text))
    return found


def drift_table(table: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """`drift.psi`'s table with `crossed`: the PSI reaches `threshold` and exceeds what chance
    gives at these sample sizes (a feature missing from the data crosses too)."""
    crossed = (table["psi"] >= threshold) & (table["psi"] > table["noise"].fillna(0.0))
    return table.assign(crossed=crossed | (table["status"] == "missing"))
