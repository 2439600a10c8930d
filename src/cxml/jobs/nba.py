"""Wiring for next-best-action in training: learn uplift from the campaigns whose outcome windows
closed before the test cutoff, then judge the policy at the test cutoff beside the baselines
(and, on simulated data, against the truth and the oracle) at the same budget."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from cxml.actions.baselines import (
    best_average_action,
    everyone_best_average,
    random_policy,
    top_risk_best_average,
    true_policy_value,
    true_values,
)
from cxml.actions.calibration import UpliftCalibration, cross_fitted, spread_ratio
from cxml.actions.fallback import LEARNED, SIMPLE, Fallback, compare, decide
from cxml.actions.history import with_contacts
from cxml.actions.offpolicy import dr_terms
from cxml.actions.policy import allocate, eligible, net_values
from cxml.actions.recommend import anchors, attributes, customer_values, effect_level
from cxml.config import ActionsConfig, PipelineConfig
from cxml.data.load import LoadedData
from cxml.features.attributes import as_of
from cxml.features.build import build_features, log_start
from cxml.features.catalog import Features
from cxml.features.dataset import FeaturesFn, Split
from cxml.features.table import Table
from cxml.features.treatments import campaign_times, censoring_weights, treatment_set
from cxml.models.backtest import Backtest
from cxml.models.survival import HazardModel
from cxml.models.uplift import DRLearner, OffsetLearner, TLearner, XLearner

LEARNERS = {"t": TLearner, "x": XLearner, "dr": DRLearner, "offset": OffsetLearner}
TREATMENT_COLUMNS = ["treatment", "propensity", "good", "retreated", "reached_days", "left_days"]


def fit_uplift(
    config: PipelineConfig,
    loaded: LoadedData,
    before: pd.Timestamp,
    features_fn: FeaturesFn | None = None,
    columns: Sequence[str] | None = None,
    today: tuple[pd.DataFrame, np.ndarray | None] | None = None,
) -> tuple[object, dict[str, object], UpliftCalibration]:
    """The configured meta-learner, fitted on every campaign whose window closed by `before`
    (on the pipeline's features, those of `columns` when given (the risk models' own), unless
    `features_fn` gives others), and the calibration of its effects, cross-fitted on the same
    campaigns (actions/calibration.py). `today`: customers none of the learners saw (features,
    and the churn level the effects are taken at): the calibration's slope is then carried
    over from the half-learners to the whole learner by how much less its estimates spread on
    them (`UpliftCalibration.for_learner`), and its spread shrunk toward their mean effects
    (`UpliftCalibration.centred`)."""
    actions = config.actions
    assert actions is not None
    log = loaded.tables.get("actions")
    if log is None or log.empty:
        raise ValueError("actions: the data dir has no actions log to learn uplift from")
    horizon = pd.Timedelta(days=actions.horizon_days)
    times = [t for t in campaign_times(log) if t + horizon <= before]
    if not times:
        raise ValueError(
            f"actions: no campaign's {actions.horizon_days}-day window closes by {before}"
        )
    fcfg = config.features
    labels = replace(config.labels, horizon_days=actions.horizon_days)
    events, customers = loaded.tables["events"], loaded.tables["customers"]
    since, history = log_start(events), loaded.tables.get("attributes")

    def pipeline_features(e: pd.DataFrame, c: pd.DataFrame, t: pd.Timestamp) -> pd.DataFrame:
        return _columns(build_features(e, as_of(c, history, t), t, fcfg, since), columns)

    made = features_fn or pipeline_features

    def built(e: pd.DataFrame, c: pd.DataFrame, t: pd.Timestamp) -> pd.DataFrame:
        """The learner's rows at campaign time `t`: the features, and each customer's contacts
        logged before `t` (the campaign's own action is what the row learns from)."""
        return with_contacts(made(e, c, t), log, actions, t)

    rows = treatment_set(
        events, customers, log, times, built, labels, actions.outcome, actions.control
    )
    retreated = int(rows["retreated"].sum())
    weight = None
    if actions.drop_retreated:
        kept = ~rows["retreated"].to_numpy()
        rows, weight = rows[kept], censoring_weights(rows)[kept]

    def new_learner() -> Any:
        return LEARNERS[actions.learner](control=actions.control, seed=config.model.seed)

    learner = new_learner()
    features = rows.drop(columns=TREATMENT_COLUMNS)
    logged = randomised_propensities(rows)
    treatment, good = rows["treatment"].to_numpy(), rows["good"].to_numpy()
    learner.fit(features, treatment, good, logged if np.isfinite(logged).any() else None, weight)
    customers = rows.index.get_level_values("customer_id").to_numpy()
    campaigns = rows.index.get_level_values("cutoff").to_numpy() if anchors(actions) else None
    calibration, halves = cross_fitted(
        new_learner, features, treatment, good, logged, customers, actions.names,
        actions.control, config.model.seed, campaigns, weight,
    )  # fmt: skip
    counts = rows["treatment"].value_counts()
    summary: dict[str, object] = {}
    if today is not None:
        table, level = today
        estimated = [
            m.predict_uplift(table, level)[list(actions.names)].to_numpy(float)
            for m in (learner, *halves)
        ]
        ratio = spread_ratio(estimated[1:], estimated[0])
        carried = calibration.for_learner(ratio)
        calibration = carried.centred(actions.names, estimated[0].mean(axis=0))
        summary["uplift_halves_spread_ratio"] = ratio
    summary |= {
        "uplift_rows": len(rows),
        "uplift_rows_logged_propensity": int(np.isfinite(logged).sum()),
        "uplift_campaigns": len(times),
        "uplift_rows_retreated": retreated,
        "uplift_rows_weight_max": 1.0 if weight is None else float(weight.max()),
    }
    summary |= {f"uplift_rows_{name}": int(n) for name, n in counts.items()}
    return learner, summary, calibration


def randomised_propensities(rows: pd.DataFrame) -> np.ndarray:
    """Per treatment row, its logged propensity where its campaign logged one for every row,
    the untreated included (a randomised campaign: cxml's own decisions, an A/B test); else NaN,
    and the learner estimates it. A campaign that logged only the treated says nothing about
    the untreated's chance of no action, and mixing the two scales would skew the weights."""
    logged = rows["propensity"].to_numpy(dtype=float)
    cutoff = rows.index.get_level_values("cutoff")
    complete = pd.Series(np.isfinite(logged)).groupby(np.asarray(cutoff)).transform("all")
    return np.where(complete.to_numpy(), logged, np.nan)


def _policies(
    actions: ActionsConfig,
    values: pd.DataFrame,
    allowed: pd.DataFrame,
    risk: pd.Series,
    seed: int,
) -> dict[str, pd.Series]:
    cost = {a.name: a.cost for a in actions.catalog}
    budget = float("inf") if actions.budget is None else actions.budget
    return {
        "cxml": _allocated(values, allowed, actions),
        "no_action": pd.Series("none", index=values.index, dtype=object),
        "everyone_best_average": everyone_best_average(values, allowed, cost, budget, seed),
        "top_risk_best_average": top_risk_best_average(values, allowed, risk, cost, budget),
        "random": random_policy(allowed, cost, budget, seed),
    }


def _allocated(values: pd.DataFrame, allowed: pd.DataFrame, actions: ActionsConfig) -> pd.Series:
    """The action `allocate` gives each row of `values` (customers × the catalog's actions)."""
    chosen = allocate(
        values.to_numpy(dtype=float, na_value=np.nan),
        allowed.to_numpy(dtype=bool),
        actions.catalog,
        actions.budget,
        values.index,
        actions.allocation,
    )
    return pd.Series(chosen["action"], index=values.index, name="action")


def _columns(features: Features, columns: Sequence[str] | None) -> pd.DataFrame:
    frame = features.frame()
    return frame if columns is None else frame[list(columns)]


def policy_report(
    config: PipelineConfig,
    learner: object,
    features: pd.DataFrame,
    churn: pd.Series,
    log: pd.DataFrame | None,
    at: pd.Timestamp,
    truth: pd.DataFrame | None,
    realised: pd.Series | None = None,
    calibration: UpliftCalibration | None = None,
    money: np.ndarray | None = None,
) -> tuple[dict[str, float], pd.DataFrame, Fallback | None]:
    """Each policy's spend and actions at the test cutoff; its true value where truth exists,
    with the oracle (the same allocation on the true values) for reference; and, where a
    campaign was logged at the test cutoff with its propensities, each policy's doubly robust
    value and the fallback when the learned policy did not beat the best simple one
    (actions/fallback.py). With a `calibration`, the learner's effects are calibrated first,
    as scoring calibrates them: the campaign at the test cutoff then checks the calibrated
    policy, having had no part in the calibration. `money`: what keeping each customer is
    worth (`customer_values`); None: the fixed rule's value."""
    actions = config.actions
    assert actions is not None
    catalog, names, table = actions.catalog, actions.names, Table.of(features)
    value = customer_values(table, actions, None, None) if money is None else money
    allowed = pd.DataFrame(
        eligible(attributes(table, value), catalog, log, actions.contact, at, actions.control),
        index=features.index,
        columns=names,
    )
    level = effect_level(actions, churn.reindex(features.index).to_numpy(dtype=float))
    uplift = learner.predict_uplift(features, level)  # type: ignore[attr-defined]
    estimates = uplift[names].to_numpy(dtype=float, na_value=np.nan)
    if calibration is not None:
        estimates = calibration.apply(estimates, names)
    values = pd.DataFrame(
        net_values(estimates, value, catalog, features.index), index=features.index, columns=names
    )
    policies = _policies(actions, values, allowed, churn, config.model.seed)
    cost = {a.name: a.cost for a in catalog}
    if truth is not None:
        truth_values = true_values(truth.loc[features.index], list(cost), cost)
        policies["oracle"] = _allocated(truth_values[names], allowed, actions)
    rows = []
    for name, policy in policies.items():
        row = {"policy": name, "treated": int((policy != "none").sum())}
        row["spend"] = float(policy.map(cost).fillna(0.0).sum())
        row["estimated_value"] = float(_estimated(policy, values))
        if truth is not None:
            row["true_value"] = true_policy_value(policy, truth_values)
        rows.append(row)
    table = pd.DataFrame(rows)
    metrics = _metrics(table)
    fallback = None
    campaign = held_out_campaign(truth, log, at, features.index, actions.control)
    if campaign is not None and realised is not None and learner.gives_outcomes:  # type: ignore[attr-defined]
        simple = {p: policies[p] for p in (LEARNED, *SIMPLE)}
        gains = _dr_gains(learner, features, campaign, realised, value, cost, simple)
        checked = compare(gains)
        estimated = dict(zip(table["policy"], table["estimated_value"], strict=True))
        fallback = decide(checked, best_average_action(values, allowed), estimated)
        by = checked.set_index("policy")
        table = table.merge(_one_row_each(checked), on="policy", how="left")
        metrics |= {
            "nba_cxml_dr_value": float(by.at[LEARNED, "dr_value"]),
            "nba_cxml_dr_low": float(by.at[LEARNED, "dr_low"]),
            "nba_cxml_dr_high": float(by.at[LEARNED, "dr_high"]),
            "nba_fallback": float(fallback is not None),
        }
    return metrics, table, fallback


def _one_row_each(checked: pd.DataFrame) -> pd.DataFrame:
    """`compare`'s rows as one per policy: its DR value and interval, and for a simple policy
    the learned one's paired difference with it (learned_minus_*)."""
    paired = checked["policy"].str.startswith(f"{LEARNED} - ")
    own = checked[~paired]
    diff = checked[paired].assign(policy=lambda f: f["policy"].str.removeprefix(f"{LEARNED} - "))
    diff = diff.rename(
        columns={
            "dr_value": "learned_minus_value",
            "dr_low": "learned_minus_low",
            "dr_high": "learned_minus_high",
        }
    )
    return own.merge(diff, on="policy", how="left")


def held_out_campaign(
    truth: pd.DataFrame | None,
    log: pd.DataFrame | None,
    at: pd.Timestamp,
    index: pd.Index,
    control: str,
) -> pd.DataFrame | None:
    """The campaign at `at` as logged for every one of `index`'s customers: `action` and
    `propensity` (the simulator's truth holds it; a real log, when it logged every customer at
    `at`, untreated ones too). None when there is no such campaign: nothing to check against."""
    if truth is not None and "logged_propensity" in truth:
        rows = truth.loc[index]
        return pd.DataFrame(
            {"action": rows["logged_action"], "propensity": rows["logged_propensity"]},
            index=index,
        )
    if log is None or "propensity" not in log:
        return None
    when = pd.to_datetime(log["action_time"], utc=True) == at
    rows = log.loc[when.to_numpy()].assign(customer_id=lambda f: f["customer_id"].astype(str))
    rows = rows.drop_duplicates("customer_id").set_index("customer_id").reindex(index)
    if rows["propensity"].isna().any():
        return None
    return pd.DataFrame(
        {"action": rows["action"].fillna(control), "propensity": rows["propensity"]},
        index=index,
    )


def _dr_gains(
    learner: Any,  # a fitted uplift learner that models each arm (T-, offset)
    features: pd.DataFrame,
    campaign: pd.DataFrame,
    churned: pd.Series,
    value: np.ndarray,
    cost: dict[str, float],
    policies: dict[str, pd.Series],
) -> dict[str, np.ndarray]:
    """Per policy, each customer's doubly robust gain over no action, in money, from the
    held-out campaign and the outcomes that followed."""
    control = campaign["action"].where(campaign["action"].isin(list(cost)), "none")
    prices = {**cost, "none": 0.0}
    worth = np.asarray(value, dtype=float)
    reward = (1 - churned.reindex(features.index).to_numpy()) * worth - control.map(prices)
    outcomes = learner.predict_outcomes(features)
    good = outcomes.rename(columns={learner.control: "none"})
    predicted = good.mul(worth, axis=0) - pd.Series(prices)[good.columns]
    args = (reward.to_numpy(), control.to_numpy(), campaign["propensity"].to_numpy())
    nobody = dr_terms(*args, "none", predicted)
    return {
        name: dr_terms(*args, policy.to_numpy(), predicted) - nobody
        for name, policy in policies.items()
    }


def _estimated(policy: pd.Series, values: pd.DataFrame) -> float:
    treated = policy[policy != "none"]
    rows = values.index.get_indexer(treated.index)
    cols = values.columns.get_indexer(treated.to_numpy())
    return float(values.to_numpy()[rows, cols].sum())


def _metrics(table: pd.DataFrame) -> dict[str, float]:
    by = table.set_index("policy")
    metrics = {f"nba_{p}_estimated_value": float(v) for p, v in by["estimated_value"].items()}
    if "true_value" in by:
        metrics |= {f"nba_{p}_true_value": float(v) for p, v in by["true_value"].items()}
        oracle, ours = by.at["oracle", "true_value"], by.at["cxml", "true_value"]
        top = by.at["top_risk_best_average", "true_value"]
        metrics["nba_share_of_oracle"] = float(ours / oracle) if oracle > 0 else float("nan")
        metrics["nba_gain_over_top_risk"] = float(ours / top - 1) if top > 0 else float("nan")
    return metrics


@dataclass
class Judged:
    """The uplift learner and how its policy did at the test cutoff: metrics, each policy's
    row, the simple policy to fall back to (if any), and predicted against true uplift by
    decile (simulated data: where the truth is known)."""

    learner: object
    metrics: dict[str, float]
    table: pd.DataFrame
    fallback: Fallback | None
    deciles: pd.DataFrame | None
    calibration: UpliftCalibration | None = None


def uplift_deciles(
    learner: Any,
    features: pd.DataFrame,
    truth: pd.DataFrame,
    names: list[str],
    calibration: UpliftCalibration | None = None,
    level: np.ndarray | None = None,
    bins: int = 10,
) -> pd.DataFrame:
    """Every customer x action's predicted uplift (fall in churn probability; taken at `level`
    and calibrated, as scoring gives it) against the simulator's true one, by decile of the
    prediction: are the promises calibrated?"""
    predicted = learner.predict_uplift(features, level)[names].to_numpy(dtype=float)
    if calibration is not None:
        predicted = calibration.apply(predicted, names)
    predicted = predicted.ravel()
    rows = truth.loc[features.index]
    true = np.column_stack([rows["p_churn_none"] - rows[f"p_churn_{a}"] for a in names]).ravel()
    decile = pd.qcut(pd.Series(predicted).rank(method="first"), bins, labels=False) + 1
    frame = pd.DataFrame({"decile": decile, "predicted_uplift": predicted, "true_uplift": true})
    table = frame.groupby("decile").agg(
        pairs=("predicted_uplift", "size"),
        predicted_uplift=("predicted_uplift", "mean"),
        true_uplift=("true_uplift", "mean"),
    )
    return table.reset_index()


def judge_policy(
    config: PipelineConfig,
    loaded: LoadedData,
    split: Split,
    result: Backtest,
    features: pd.DataFrame,
    truth: pd.DataFrame | None,
    survival: HazardModel | None = None,
) -> Judged:
    """Uplift learned before the test cutoff; the policy judged at it, and the simple policy
    to fall back to when it was not better (actions/fallback.py). `survival`: the time-to-churn
    model learned before the test cutoff, which the lifetime value rule reads."""
    at = split.test[0]
    assert config.actions is not None
    churn = result.results["churn"]
    at_test = churn.index.get_level_values("cutoff") == at
    ids = churn.index[at_test].get_level_values("customer_id")
    risk = pd.Series(churn.model[at_test], index=ids)
    log = loaded.tables.get("actions")
    test_features = features.loc[churn.index[at_test]].set_axis(ids)
    uplift_features = with_contacts(test_features, log, config.actions, at)
    level = effect_level(config.actions, risk.to_numpy(dtype=float))
    learner, summary, calibration = fit_uplift(
        config, loaded, at, columns=list(features.columns), today=(uplift_features, level)
    )
    realised = pd.Series(churn.y[at_test], index=ids)
    names = config.actions.names
    curve, grid = None, None
    if survival is not None:
        curve, grid = survival.survival(result.encoder.transform(test_features)), survival.grid
    money = customer_values(Table.of(test_features), config.actions, curve, grid)
    metrics, table, fallback = policy_report(
        config, learner, uplift_features, risk, log, at, truth, realised, calibration, money
    )
    metrics |= {k: float(v) for k, v in summary.items() if isinstance(v, int | float)}
    if calibration is not None:
        metrics["uplift_calibration_slope"] = calibration.slope
    deciles = None
    if truth is not None and "p_churn_none" in truth:
        deciles = uplift_deciles(learner, uplift_features, truth, names, calibration, level)
    return Judged(learner, metrics, table, fallback, deciles, calibration)
