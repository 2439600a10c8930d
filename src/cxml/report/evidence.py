"""The sections that say how far to trust the list: expected value versus baselines, touchpoints,
drift, how earlier scorings turned out, and the model card. Each turns (scored, context) into the
values its template in templates/sections/ shows."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from cxml.report.context import Badge, ReportContext, View, first
from cxml.report.format import DASH, date, missing, money, num, pct
from cxml.report.page_figures import inline, policy_figure, touchpoint_share_figure

NO_ACTION = {"no action", "no_action", "none", "control", "nothing"}
GOOD_AUC, GOOD_COUNT_GAP = 0.7, 0.2  # "trust the list": AUC at least this, counts within 20%
VALUE_COLUMNS = ("expected_value", "estimate", "value")


def _policy_frame(values: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    value = next((c for c in VALUE_COLUMNS if c in values), None)
    if value is None or "policy" not in values:
        raise ValueError(
            "policy_values needs a 'policy' column and one of expected_value/estimate/value;"
            f" it has {list(values.columns)}"
        )
    label = values["policy"].astype(str).str.replace("_", " ")
    if "estimator" in values:
        label = label + " (" + values["estimator"].astype(str) + ")"
    frame = values.assign(label=label).sort_values(value, ascending=False, kind="stable")
    return frame.reset_index(drop=True), value


def _decile_rows(deciles: pd.DataFrame | None) -> list[list[str]]:
    if deciles is None or deciles.empty:
        return []
    return [
        [str(int(r["decile"])), num(r["pairs"]), pct(r["predicted_uplift"]), pct(r["true_uplift"])]
        for r in deciles.to_dict("records")
    ]


def policy(scored: pd.DataFrame, ctx: ReportContext) -> View:
    deciles = _decile_rows(ctx.uplift_deciles)
    if ctx.policy_values is None or ctx.policy_values.empty:
        return {
            "given": False,
            "fallback": ctx.fallback,
            "calibration": ctx.calibration,
            "deciles": deciles,
        }
    frame, value = _policy_frame(ctx.policy_values)
    base = frame.loc[frame["policy"].astype(str).str.lower().isin(NO_ACTION), value]
    reference = float(base.iloc[0]) if len(base) else np.nan
    has_interval = {"low", "high"} <= set(frame.columns)
    rows = []
    for r in frame.to_dict("records"):
        interval = f"{num(r['low'], 2)} to {num(r['high'], 2)}" if has_interval else DASH
        gap = "reference" if r[value] == reference else num(r[value] - reference, 2, sign=True)
        rows.append([r["label"], num(r[value], 2), interval, gap])
    image = inline(policy_figure(frame, value), "expected value per policy")
    return {
        "given": True,
        "image": image,
        "rows": rows,
        "fallback": ctx.fallback,
        "calibration": ctx.calibration,
        "deciles": deciles,
    }


def touchpoints(scored: pd.DataFrame, ctx: ReportContext) -> View:
    frame = ctx.touchpoints
    if frame is None or frame.empty:
        return {"given": False}
    up = frame[frame["mean_contribution"] > 0].sort_values("mean_contribution", ascending=False)
    strongest = None
    if len(up):
        kind = str(up.iloc[0]["kind"]).replace("_", " ")
        strongest = (str(up.iloc[0]["touchpoint"]).replace("_", " "), kind)
    figure = touchpoint_share_figure(frame)
    image = inline(figure, "share of risk by touchpoint")
    return {"given": True, "strongest": strongest, "image": image}


def drift(scored: pd.DataFrame, ctx: ReportContext) -> View:
    frame = ctx.drift
    if frame is None or frame.empty:
        return {"given": False}
    counts = frame["status"].value_counts()
    summary = ", ".join(
        f"{int(counts.get(s, 0))} {s}" for s in ("drifted", "watch", "stable", "missing")
    )
    shown = frame[frame["status"] != "stable"]
    return {
        "given": True,
        "summary": summary,
        "drifted": int(counts.get("drifted", 0)),
        "absent": int(counts.get("missing", 0)),
        "rows": [[r.feature, num(r.psi, 3), Badge(str(r.status))] for r in shown.itertuples()],
    }


def verdict(row: dict[str, Any]) -> str:
    """A plain verdict on an earlier scoring: did it rank well, were the counts right?"""
    auc = row.get("realised_auc")
    if auc is None or pd.isna(auc):
        return DASH
    ranked = float(auc) >= GOOD_AUC
    expected, realised = row.get("expected_churners"), row.get("realised_churners")
    if expected is None or realised is None or pd.isna(expected) or pd.isna(realised):
        return "ranked well" if ranked else "weak ranking: use with care"
    gap = abs(float(expected) - float(realised)) / max(float(realised), 1.0)
    if ranked:
        return "ranked well, counts right" if gap <= GOOD_COUNT_GAP else "ranked well, counts off"
    return "weak ranking: use with care"


def _earlier_row(r: dict[str, Any]) -> list[str]:
    version = r.get("model_version")
    return [
        date(r.get("cutoff")),
        DASH if version is None or pd.isna(version) else f"v{version}",
        num(r.get("customers")),
        num(r.get("expected_churners")),
        num(r.get("realised_churners")),
        num(r.get("realised_auc"), 3),
        num(r.get("ece"), 3),
        num(r.get("lift_top10"), 1, "×"),
        verdict(r),
    ]


def earlier(scored: pd.DataFrame, ctx: ReportContext) -> View:
    frame, older = ctx.earlier, ctx.earlier_older
    if frame is None or frame.empty:
        return {"given": False, "horizon_days": ctx.horizon_days, "older": older}
    records = frame.sort_values("cutoff", ascending=False).to_dict("records")
    return {"given": True, "rows": [_earlier_row(r) for r in records], "older": older}


def _points(value: Any) -> str:
    """A difference of two probabilities, in percentage points."""
    return DASH if missing(value) else num(100 * float(value), 1, " pts", sign=True)


def _decision_row(r: dict[str, Any], currency: str) -> list[str]:
    interval = DASH
    if not missing(r.get("low")) and not missing(r.get("high")):
        interval = f"{_points(r['low'])} to {_points(r['high'])}"
    return [
        date(r.get("cutoff")),
        str(r.get("action", "")).replace("_", " "),
        num(r.get("treated")),
        num(r.get("control")),
        pct(r.get("churn_treated")),
        pct(r.get("churn_control")),
        _points(r.get("realised_uplift")),
        interval,
        _points(r.get("predicted_uplift")),
        money(r.get("realised_gain"), currency),
        money(r.get("expected_gain"), currency),
    ]


def decisions(scored: pd.DataFrame, ctx: ReportContext) -> View:
    """What `cxml outcomes` found for earlier runs' decisions: treated against held out."""
    frame = ctx.decisions
    if frame is None or frame.empty:
        return {"given": False, "horizon_days": ctx.horizon_days}
    records = frame.sort_values(["cutoff", "action"], ascending=[False, True]).to_dict("records")
    return {"given": True, "rows": [_decision_row(r, ctx.currency) for r in records]}


METRIC_WORDS = {
    "roc_auc": "ROC AUC",
    "pr_auc": "PR AUC",
    "auc": "AUC",
    "brier": "Brier score",
    "ece": "calibration error (ECE)",
    "log_loss": "log loss",
}


def metric_words(name: str) -> str:
    """'churn_roc_auc' → 'churn: ROC AUC'; unknown names just lose their underscores."""
    for key, words in METRIC_WORDS.items():
        if name == key or name.endswith("_" + key):
            target = name[: -len(key)].rstrip("_").replace("_", " ")
            return f"{target}: {words}" if target else words
    return name.replace("_", " ")


def model_card(scored: pd.DataFrame, ctx: ReportContext) -> View:
    scored_at = scored["scored_at"].max() if "scored_at" in scored and len(scored) else None
    facts = [
        ("model", first(scored, "model_name", ctx.model_name) or DASH),
        ("version", first(scored, "model_version", ctx.model_version) or DASH),
        ("cutoff", date(first(scored, "cutoff", ctx.cutoff))),
        ("horizon", f"{ctx.horizon_days} days" if ctx.horizon_days else DASH),
        ("scored at", date(scored_at, time=True)),
        ("customers scored", num(len(scored))),
    ]
    facts += [(name, text) for name, text in ctx.model_facts.items()]
    metrics = sorted((ctx.training_metrics or {}).items())
    attributes = ctx.attributes or {}
    return {
        "facts": facts,
        "metrics": [[metric_words(name), num(v, 3)] for name, v in metrics],
        "attributes_given": ctx.attributes is not None,
        "static": ", ".join(attributes.get("static", [])),
        "with_history": ", ".join(attributes.get("with_history", [])),
    }
