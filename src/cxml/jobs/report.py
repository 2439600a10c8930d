"""`report.html`: the scored list as one self-contained page a retention team can open or print.

No scripts, stylesheets, fonts or images from anywhere else: the CSS is inline and every plot is a
PNG data URI drawn with matplotlib's `Figure` (no pyplot state). Only scored-list columns are
shown (ids, scores, reasons, actions), never a customer attribute, and every text is escaped.
Equal inputs give an equal page except for the "Generated at" line.

    html = render_report(scored, ReportContext(horizon_days=90, budget=5000, drift=table))
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd

from cxml.jobs import report_plots as plots
from cxml.jobs import report_sections as sections
from cxml.jobs.report_html import (
    Html,
    badge,
    date,
    escape,
    heading,
    img,
    join,
    kpi,
    money,
    note,
    num,
    pct,
    table,
)
from cxml.jobs.report_kpis import (
    action_mix,
    band_table,
    nps_change,
    nps_trend,
    retention_rate,
    revenue_at_risk,
)
from cxml.jobs.report_style import CSS

__all__ = ["SECTIONS", "ReportContext", "nps_trend", "render_report", "retention_rate"]

REQUIRED = ("customer_id", "churn_probability", "churn_risk_band", "churn_rank")
TOP_N = 50


@dataclass(frozen=True)
class ReportContext:
    """Everything besides the scored list. Each piece is optional: a section without its piece
    says what is missing instead of failing."""

    model_name: str | None = None
    model_version: str | None = None
    cutoff: str | pd.Timestamp | None = None
    horizon_days: int | None = None
    customer_value: pd.Series | None = None  # per customer_id, e.g. margin over the horizon
    budget: float | None = None
    policy_values: pd.DataFrame | None = None  # policy, expected_value|estimate, [low, high]
    touchpoints: pd.DataFrame | None = None  # models.explain.touchpoint_impact
    drift: pd.DataFrame | None = None  # models.drift.psi
    nps: pd.DataFrame | None = None  # nps_trend: month, nps, responses
    retention_rate: float | None = None  # share, 0..1
    earlier: pd.DataFrame | None = None  # cutoff, customers, realised_auc, expected_churners, …
    training_metrics: dict[str, float] | None = None
    currency: str = ""  # prefix for money, e.g. "€"


def _horizon(ctx: ReportContext) -> str:
    return f"over the next {ctx.horizon_days} days" if ctx.horizon_days else "over the horizon"


def _revenue_kpi(scored: pd.DataFrame, ctx: ReportContext) -> Html:
    if ctx.customer_value is None:
        return kpi("Revenue at risk", "—", "no customer values given")
    total, unknown = revenue_at_risk(scored, ctx.customer_value)
    detail = "churn probability × customer value"
    if unknown:
        detail += f"; {unknown:,} without a value left out"
    return kpi("Revenue at risk", money(total, ctx.currency), detail)


def _month(period: pd.Period) -> str:
    return period.strftime("%b %Y")


def _nps_kpi(ctx: ReportContext) -> Html:
    if ctx.nps is None or ctx.nps.empty:
        return kpi("NPS", "—", "no survey answers given")
    latest, month, change = nps_change(ctx.nps, back=3)
    if not month:
        return kpi("NPS", "—", "no survey answers in the period")
    period = pd.Period(month, freq="M")
    if pd.isna(change):
        return kpi("NPS", num(latest, sign=True), _month(period))
    arrow = "▲" if change > 0 else "▼" if change < 0 else "="
    trend = f"{arrow} {abs(change):.0f} points since {_month(period - 3)}"
    return kpi("NPS", num(latest, sign=True), f"{_month(period)}; {trend}")


def _kpis(scored: pd.DataFrame, ctx: ReportContext) -> Html:
    n, high = len(scored), int((scored["churn_risk_band"] == "high").sum())
    cards = [
        kpi("Customers scored", num(n)),
        kpi("High risk", num(high), f"{pct(high / max(n, 1))} of customers"),
        kpi("Expected churners", num(scored["churn_probability"].sum()), _horizon(ctx)),
        _revenue_kpi(scored, ctx),
        _nps_kpi(ctx),
        kpi("Retention rate", pct(ctx.retention_rate), "customers kept over the last period"),
    ]
    if "satisfaction_drop_probability" in scored:
        drops = num(scored["satisfaction_drop_probability"].sum())
        cards.insert(3, kpi("Expected satisfaction drops", drops, _horizon(ctx)))
    parts = [Html('<div class="kpis">'), *cards, Html("</div>")]
    if ctx.nps is not None and (ctx.nps["responses"] > 0).any():
        uri = plots.figure_uri(plots.nps_figure(ctx.nps))
        parts += [heading("Net promoter score by month"), img(uri, "NPS by month")]
    return join(parts)


def _risk(scored: pd.DataFrame, ctx: ReportContext) -> Html:
    bands = band_table(scored, ctx.customer_value)
    figure = plots.risk_histogram(scored["churn_probability"], scored["churn_risk_band"])
    header = ["risk band", "customers", "share", "mean churn probability", "expected churners"]
    rows: list[list[object]] = [
        [
            badge(str(r.band)),
            num(r.customers),
            pct(r.share),
            pct(r.mean_probability),
            num(r.expected_churners, 1),
        ]
        for r in bands.itertuples()
    ]
    if ctx.customer_value is not None:
        header.append("revenue at risk")
        for row, value in zip(rows, bands["revenue_at_risk"], strict=True):
            row.append(money(value, ctx.currency))
    lead = "High risk: at least 3× the average churn risk the model was trained on; medium: 1.5×."
    return join(
        [
            note(lead, "lead"),
            img(plots.figure_uri(figure), "histogram of churn probability by risk band"),
            table(header, rows, {1, 2, 3, 4, 5}, "mid"),
        ]
    )


def _reasons(row: pd.Series) -> Html:
    texts = [row.get(f"reason_{i}") for i in (1, 2, 3)]
    kept = [str(t) for t in texts if isinstance(t, str) and t]
    if not kept:
        return Html('<span class="muted">not explained</span>')
    return Html('<ul class="reasons">' + "".join(f"<li>{escape(t)}</li>" for t in kept) + "</ul>")


def _action_cell(row: pd.Series) -> Html:
    action = row.get("action")
    name = str(action).replace("_", " ") if isinstance(action, str) and action else "none"
    why = row.get("action_reason")
    why_html = f'<div class="muted small">{escape(why)}</div>' if isinstance(why, str) else ""
    return Html(f"<strong>{escape(name)}</strong>{why_html}")


def _top_row(r: pd.Series, has_action: bool, currency: str) -> list[object]:
    row: list[object] = [num(r["churn_rank"]), r["customer_id"], pct(r["churn_probability"])]
    row += [badge(str(r["churn_risk_band"])), pct(r.get("satisfaction_drop_probability"))]
    row.append(_reasons(r))
    if has_action:
        row += [_action_cell(r), money(r.get("action_expected_gain"), currency)]
    return row


def _top(scored: pd.DataFrame, ctx: ReportContext) -> Html:
    top = scored.sort_values(["churn_rank", "customer_id"], kind="stable").head(TOP_N)
    has_action = "action" in scored
    header = ["rank", "customer", "churn risk", "band", "satisfaction drop", "why"]
    header += ["action", "expected gain"] if has_action else []
    rows = [_top_row(r, has_action, ctx.currency) for _, r in top.iterrows()]
    parts = [
        note(f"The {len(top)} customers most likely to leave, riskiest first.", "lead"),
        table(header, rows, {0, 2, 4, 7}, "top"),
    ]
    if not has_action:
        parts.append(note("No recommended actions in this scoring.", id_="top-no-actions"))
    return join(parts)


def _budget(mix: pd.DataFrame, ctx: ReportContext) -> Html:
    acting = mix[mix["action"] != "none"]
    spend, gain = float(acting["cost"].sum()), float(acting["expected_gain"].sum())
    acted = int(acting["customers"].sum())
    idle = int(mix.loc[mix["action"] == "none", "customers"].sum())
    text = f"{acted:,} customers get an action ({idle:,} none): planned spend"
    text += f" {money(spend, ctx.currency)}"
    text += f", expected gain {money(gain, ctx.currency)}"
    if not ctx.budget:
        return note(text + "; no budget was given.", "lead")
    used = spend / ctx.budget
    text += f", {pct(used)} of the {money(ctx.budget, ctx.currency)} budget."
    width = f"{min(max(used, 0.0), 1.0) * 100:.1f}%"
    parts = [
        note(text, "lead"),
        Html(f'<div class="meter"><span style="width:{width}"></span></div>'),
    ]
    if used > 1.0 + 1e-9:
        parts.append(note("Planned spend is over the budget.", "warning", "budget-over"))
    return join(parts)


def _mix_row(r: pd.Series, currency: str) -> list[object]:
    per_cost = r["expected_gain"] / r["cost"] if r["cost"] and not pd.isna(r["cost"]) else None
    return [
        str(r["action"]).replace("_", " "),
        num(r["customers"]),
        pct(r["share"]),
        money(r["cost"], currency),
        money(r["expected_gain"], currency),
        num(per_cost, 1, "×"),
    ]


def _actions(scored: pd.DataFrame, ctx: ReportContext) -> Html:
    if "action" not in scored:
        text = (
            "This scoring has no action columns, so there is no action mix or budget use to"
            " show. Score with an action catalog in the pipeline config to get actions."
        )
        return note(text, id_="actions-absent")
    mix = action_mix(scored)
    header = ["action", "customers", "share", "cost", "expected gain", "gain per unit cost"]
    rows = [_mix_row(r, ctx.currency) for _, r in mix.iterrows()]
    parts = [_budget(mix, ctx)]
    if (mix["action"] != "none").any():
        uri = plots.figure_uri(plots.action_figure(mix[mix["action"] != "none"]))
        parts.append(img(uri, "customers per action"))
    return join([*parts, table(header, rows, {1, 2, 3, 4, 5}, "mid")])


Builder = Callable[[pd.DataFrame, ReportContext], Html]
SECTIONS: tuple[tuple[str, str, Builder], ...] = (
    ("kpis", "Headline", _kpis),
    ("risk", "Risk distribution", _risk),
    ("top-customers", "Top at-risk customers", _top),
    ("actions", "Actions and budget", _actions),
    ("policy-value", "Expected value versus baselines", sections.policy_section),
    ("touchpoints", "Touchpoint impact", sections.touchpoint_section),
    ("drift", "Data drift", sections.drift_section),
    ("earlier", "How earlier scorings turned out", sections.earlier_section),
    ("model-card", "Model card", sections.model_section),
)


def _check(scored: pd.DataFrame) -> None:
    absent = [c for c in REQUIRED if c not in scored]
    if absent:
        raise ValueError(
            f"the scored list lacks {absent}: render the report from `cxml score` output,"
            f" which has {list(REQUIRED)}"
        )


def _subtitle(scored: pd.DataFrame, ctx: ReportContext) -> str:
    parts = [f"Cutoff {date(sections.first(scored, 'cutoff', ctx.cutoff))}"]
    if ctx.horizon_days:
        parts.append(f"risk over the next {ctx.horizon_days} days")
    name = sections.first(scored, "model_name", ctx.model_name)
    version = sections.first(scored, "model_version", ctx.model_version)
    if name:
        parts.append(f"model {name}" + (f" version {version}" if version else ""))
    return " · ".join(parts)


def _page(title: str, body: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n{body}"
        "<footer><p>Only customer ids, scores, reasons and actions appear in this report:"
        " no personal data.</p>\n"
        f'<p class="generated">Generated at {stamp}</p>\n</footer>\n</body>\n</html>\n'
    )


def render_report(scored: pd.DataFrame, context: ReportContext | None = None) -> str:
    """The whole report as one self-contained HTML string (write it atomically)."""
    ctx = context or ReportContext()
    _check(scored)
    subtitle = _subtitle(scored, ctx)
    nav = "".join(f'<a href="#{i}">{escape(t)}</a>' for i, t, _ in SECTIONS)
    body = [
        f'<header><h1>Customers at risk</h1><p class="sub">{escape(subtitle)}</p>'
        f"<nav>{nav}</nav></header>\n<main>\n"
    ]
    for ident, title, build in SECTIONS:
        body.append(
            f'<section id="{ident}"><h2>{escape(title)}</h2>{build(scored, ctx)}</section>\n'
        )
    body.append("</main>\n")
    return _page(f"Customers at risk — {subtitle}", "".join(body))
