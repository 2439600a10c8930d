"""The report's evidence sections: expected value versus baselines, touchpoints, drift, how
earlier scorings turned out, and the model card. Each takes (scored, context) and returns Html."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from cxml.jobs import report_plots as plots
from cxml.jobs.report_html import (
    Html,
    badge,
    date,
    facts,
    heading,
    img,
    join,
    note,
    num,
    table,
)

if TYPE_CHECKING:
    from cxml.jobs.report import ReportContext

NO_ACTION = {"no action", "no_action", "none", "control", "nothing"}
GOOD_AUC, GOOD_COUNT_GAP = 0.7, 0.2  # "trust the list": AUC at least this, counts within 20%
VALUE_COLUMNS = ("expected_value", "estimate", "value")


def first(scored: pd.DataFrame, column: str, given: object) -> Any:
    """The context's value, else the scored list's own column (first row), else None."""
    if given is not None:
        return given
    return scored[column].iloc[0] if column in scored and len(scored) else None


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


def policy_section(scored: pd.DataFrame, ctx: ReportContext) -> Html:
    if ctx.policy_values is None or ctx.policy_values.empty:
        return note("No policy evaluation was given with this scoring.")
    frame, value = _policy_frame(ctx.policy_values)
    base = frame.loc[frame["policy"].astype(str).str.lower().isin(NO_ACTION), value]
    reference = float(base.iloc[0]) if len(base) else np.nan
    has_interval = {"low", "high"} <= set(frame.columns)
    rows = []
    for r in frame.to_dict("records"):
        interval = f"{num(r['low'], 2)} to {num(r['high'], 2)}" if has_interval else "—"
        gap = "reference" if r[value] == reference else num(r[value] - reference, 2, sign=True)
        rows.append([r["label"], num(r[value], 2), interval, gap])
    uri = plots.figure_uri(plots.policy_figure(frame, value))
    lead = "Higher is better. Whiskers show the confidence interval where it is known."
    return join(
        [
            note(lead, "lead"),
            img(uri, "expected value per policy"),
            table(["policy", "expected value", "interval", "vs no action"], rows, {1, 2, 3}, "mid"),
        ]
    )


def touchpoint_section(scored: pd.DataFrame, ctx: ReportContext) -> Html:
    frame = ctx.touchpoints
    if frame is None or frame.empty:
        return note("No touchpoint contributions were given (customers were not explained).")
    up = frame[frame["mean_contribution"] > 0].sort_values("mean_contribution", ascending=False)
    lead = "Which channels and kinds of interaction drive churn risk across the scored customers."
    if len(up):
        kind = str(up.iloc[0]["kind"]).replace("_", " ")
        name = str(up.iloc[0]["touchpoint"]).replace("_", " ")
        lead += f" The strongest push up comes from {name} ({kind})."
    uri = plots.figure_uri(plots.touchpoint_figure(frame))
    legend = "Bar length: share of what drives risk. Red: raises risk on average; teal: lowers it."
    return join([note(lead, "lead"), img(uri, "share of risk by touchpoint"), note(legend, "lead")])


def _drift_notes(counts: pd.Series) -> list[Html]:
    notes = []
    drifted, absent = int(counts.get("drifted", 0)), int(counts.get("missing", 0))
    if drifted:
        text = (
            f"Warning: {drifted} feature(s) drifted since training (PSI ≥ 0.25). Scores that"
            " rely on them are less reliable: check the data feed, then consider retraining."
        )
        notes.append(note(text, "warning", "drift-warning"))
    if absent:
        text = f"{absent} feature(s) the model was trained on are missing from this data."
        notes.append(note(text, "warning", "drift-missing"))
    return notes


def drift_section(scored: pd.DataFrame, ctx: ReportContext) -> Html:
    frame = ctx.drift
    if frame is None or frame.empty:
        return note("No training profile was available, so drift was not checked.")
    counts = frame["status"].value_counts()
    summary = ", ".join(
        f"{int(counts.get(s, 0))} {s}" for s in ("drifted", "watch", "stable", "missing")
    )
    parts = [note(f"Features compared with the training data: {summary}.", "lead")]
    parts += _drift_notes(counts)
    shown = frame[frame["status"] != "stable"]
    if shown.empty:
        text = "Every feature is stable (PSI < 0.1): the data looks like the training data."
        parts.append(note(text, "ok"))
    else:
        rows = [[r.feature, num(r.psi, 3), badge(str(r.status))] for r in shown.itertuples()]
        parts.append(table(["feature", "PSI", "status"], rows, {1}, "narrow"))
        parts.append(note("PSI under 0.1: stable; 0.1 to 0.25: watch; 0.25 and over: drifted."))
    return join(parts)


def verdict(row: dict[str, Any]) -> str:
    """A plain verdict on an earlier scoring: did it rank well, were the counts right?"""
    auc = row.get("realised_auc")
    if auc is None or pd.isna(auc):
        return "—"
    ranked = float(auc) >= GOOD_AUC
    expected, realised = row.get("expected_churners"), row.get("realised_churners")
    if expected is None or realised is None or pd.isna(expected) or pd.isna(realised):
        return "ranked well" if ranked else "weak ranking: use with care"
    gap = abs(float(expected) - float(realised)) / max(float(realised), 1.0)
    if ranked:
        return "ranked well, counts right" if gap <= GOOD_COUNT_GAP else "ranked well, counts off"
    return "weak ranking: use with care"


EARLIER_HEADER = [
    "cutoff",
    "customers",
    "expected churners",
    "realised churners",
    "realised AUC",
    "calibration error",
    "lift in top 10%",
    "verdict",
]
EARLIER_LEAD = (
    "AUC: how well the list ranked who left (0.5 is chance, 1 is perfect). Calibration error:"
    " the average gap between predicted and realised risk. Lift: how many times the average"
    " churn rate the top 10% of the list showed."
)


def _earlier_row(r: dict[str, Any]) -> list[Any]:
    return [
        date(r.get("cutoff")),
        num(r.get("customers")),
        num(r.get("expected_churners")),
        num(r.get("realised_churners")),
        num(r.get("realised_auc"), 3),
        num(r.get("ece"), 3),
        num(r.get("lift_top10"), 1, "×"),
        verdict(r),
    ]


def earlier_section(scored: pd.DataFrame, ctx: ReportContext) -> Html:
    frame = ctx.earlier
    if frame is None or frame.empty:
        wait = f" (it closes {ctx.horizon_days} days after a scoring)" if ctx.horizon_days else ""
        text = f"No earlier scoring's outcome window has closed yet{wait}: nothing to check yet."
        return note(text, id_="earlier-none")
    rows = [
        _earlier_row(r) for r in frame.sort_values("cutoff", ascending=False).to_dict("records")
    ]
    numbers = {1, 2, 3, 4, 5, 6}
    return join([note(EARLIER_LEAD, "lead"), table(EARLIER_HEADER, rows, numbers, "earlier")])


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


def model_section(scored: pd.DataFrame, ctx: ReportContext) -> Html:
    scored_at = scored["scored_at"].max() if "scored_at" in scored and len(scored) else None
    rows_ = [
        ("model", first(scored, "model_name", ctx.model_name) or "—"),
        ("version", first(scored, "model_version", ctx.model_version) or "—"),
        ("cutoff", date(first(scored, "cutoff", ctx.cutoff))),
        ("horizon", f"{ctx.horizon_days} days" if ctx.horizon_days else "—"),
        ("scored at", date(scored_at, time=True)),
        ("customers scored", num(len(scored))),
    ]
    parts = [facts(rows_)]
    if ctx.training_metrics:
        metrics = sorted(ctx.training_metrics.items())
        rows = [[metric_words(name), num(v, 3)] for name, v in metrics]
        parts += [heading("Training metrics"), table(["metric", "value"], rows, {1}, "narrow")]
    else:
        parts.append(note("No training metrics were given."))
    return join(parts)
