"""The sections about the scored list itself: headline numbers, the risk distribution, the
riskiest customers and the recommended actions. Each turns (scored, context) into the values its
template in templates/sections/ shows; the words around them and all markup live there."""

from __future__ import annotations

from typing import Any, NamedTuple

import pandas as pd

from cxml.report.context import Badge, ReportContext, View
from cxml.report.format import DASH, money, num, pct
from cxml.report.kpis import action_mix, band_table, nps_change, revenue_at_risk
from cxml.report.page_figures import action_figure, inline, nps_figure, risk_histogram
from cxml.scoring.bands import band_edges

TOP_N = 50


class Card(NamedTuple):
    """One headline number: what it counts, its value, and a line that says how to read it."""

    label: str
    value: str
    detail: str = ""


class TopRow(NamedTuple):
    """One customer of the top list, every value already written out for the page."""

    rank: str
    customer: object
    risk: str
    band: Badge
    drop: str
    reasons: list[str]
    action: str
    action_reason: str | None
    gain: str


def _horizon(ctx: ReportContext) -> str:
    return f"over the next {ctx.horizon_days} days" if ctx.horizon_days else "over the horizon"


def _revenue_card(scored: pd.DataFrame, ctx: ReportContext) -> Card:
    if ctx.customer_value is None:
        return Card("Revenue at risk", DASH, "no customer values given")
    total, unknown = revenue_at_risk(scored, ctx.customer_value)
    label, detail = "Revenue at risk", "churn probability × customer value"
    if ctx.value_rule == "lifetime":
        label = "Lifetime value at risk"
        detail = "churn probability × the margin a customer kept brings over the next year"
    if unknown:
        detail += f"; {unknown:,} without a value left out"
    return Card(label, money(total, ctx.currency), detail)


def _month(period: pd.Period) -> str:
    return period.strftime("%b %Y")


def _nps_card(ctx: ReportContext) -> Card:
    if ctx.nps is None or ctx.nps.empty:
        return Card("NPS", DASH, "no survey answers given")
    latest, month, change = nps_change(ctx.nps, back=3)
    if not month:
        return Card("NPS", DASH, "no survey answers in the period")
    period = pd.Period(month, freq="M")
    if pd.isna(change):
        return Card("NPS", num(latest, sign=True), _month(period))
    arrow = "▲" if change > 0 else "▼" if change < 0 else "="
    trend = f"{arrow} {abs(change):.0f} points since {_month(period - 3)}"
    return Card("NPS", num(latest, sign=True), f"{_month(period)}; {trend}")


def _kept(ctx: ReportContext) -> str:
    period = f"the last {ctx.horizon_days} days" if ctx.horizon_days else "the last period"
    churn = f"; churn is {ctx.churn_definition}" if ctx.churn_definition else ""
    return f"customers kept over {period}{churn}"


def headline(scored: pd.DataFrame, ctx: ReportContext) -> View:
    n, high = len(scored), int((scored["churn_risk_band"] == "high").sum())
    cards = [
        Card("Customers scored", num(n)),
        Card("High risk", num(high), f"{pct(high / max(n, 1))} of customers"),
        Card("Expected churners", num(scored["churn_probability"].sum()), _horizon(ctx)),
        _revenue_card(scored, ctx),
        _nps_card(ctx),
        Card("Retention rate", pct(ctx.retention_rate), _kept(ctx)),
    ]
    if "satisfaction_drop_probability" in scored:
        drops = num(scored["satisfaction_drop_probability"].sum())
        cards.insert(3, Card("Expected satisfaction drops", drops, _horizon(ctx)))
    nps = None
    if ctx.nps is not None and (ctx.nps["responses"] > 0).any():
        nps = inline(nps_figure(ctx.nps), "NPS by month")
    return {"cards": cards, "nps_image": nps}


def risk(scored: pd.DataFrame, ctx: ReportContext) -> View:
    bands = band_table(scored, ctx.customer_value)
    header = ["risk band", "customers", "share", "mean churn probability", "expected churners"]
    rows: list[list[object]] = [
        [
            Badge(str(r.band)),
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
    figure = risk_histogram(scored["churn_probability"], scored["churn_risk_band"])
    image = inline(figure, "histogram of churn probability by risk band")
    edges = None if ctx.base_rate is None else [pct(e) for e in band_edges(ctx.base_rate)]
    return {"image": image, "header": header, "rows": rows, "edges": edges}


def _reasons(row: pd.Series) -> list[str]:
    texts = [row.get(f"reason_{i}") for i in (1, 2, 3)]
    return [str(t) for t in texts if isinstance(t, str) and t]


def _top_row(r: pd.Series, currency: str) -> TopRow:
    action = r.get("action")
    why = r.get("action_reason")
    return TopRow(
        rank=num(r["churn_rank"]),
        customer=r["customer_id"],
        risk=pct(r["churn_probability"]),
        band=Badge(str(r["churn_risk_band"])),
        drop=pct(r.get("satisfaction_drop_probability")),
        reasons=_reasons(r),
        action=str(action).replace("_", " ") if isinstance(action, str) and action else "none",
        action_reason=why if isinstance(why, str) else None,
        gain=money(r.get("action_expected_gain"), currency),
    )


def top(scored: pd.DataFrame, ctx: ReportContext) -> View:
    riskiest = scored.sort_values(["churn_rank", "customer_id"], kind="stable").head(TOP_N)
    rows = [_top_row(r, ctx.currency) for _, r in riskiest.iterrows()]
    return {"rows": rows, "has_action": "action" in scored}


def _budget(mix: pd.DataFrame, ctx: ReportContext) -> dict[str, Any]:
    acting = mix[mix["action"] != "none"]
    spend, gain = float(acting["cost"].sum()), float(acting["expected_gain"].sum())
    view: dict[str, Any] = {
        "acted": f"{int(acting['customers'].sum()):,}",
        "idle": f"{int(mix.loc[mix['action'] == 'none', 'customers'].sum()):,}",
        "spend": money(spend, ctx.currency),
        "gain": money(gain, ctx.currency),
        "given": bool(ctx.budget),
    }
    if ctx.budget:
        used = spend / ctx.budget
        view |= {
            "limit": money(ctx.budget, ctx.currency),
            "used": pct(used),
            "width": f"{min(max(used, 0.0), 1.0) * 100:.1f}%",
            "over": used > 1.0 + 1e-9,
        }
    return view


def _mix_row(r: pd.Series, currency: str) -> list[str]:
    per_cost = r["expected_gain"] / r["cost"] if r["cost"] and not pd.isna(r["cost"]) else None
    return [
        str(r["action"]).replace("_", " "),
        num(r["customers"]),
        pct(r["share"]),
        money(r["cost"], currency),
        money(r["expected_gain"], currency),
        num(per_cost, 1, "×"),
    ]


def actions(scored: pd.DataFrame, ctx: ReportContext) -> View:
    if "action" not in scored:
        return {"absent": True}
    mix = action_mix(scored)
    acting = mix[mix["action"] != "none"]
    image = None
    if len(acting):
        image = inline(action_figure(acting), "customers per action")
    return {
        "absent": False,
        "budget": _budget(mix, ctx),
        "image": image,
        "header": ["action", "customers", "share", "cost", "expected gain", "gain per unit cost"],
        "rows": [_mix_row(r, ctx.currency) for _, r in mix.iterrows()],
    }
