"""The section on when customers are expected to leave and what they are worth: the mean
survival curve of each risk band, and the customers and their lifetime value by risk band ×
value tier, which shows where acting pays (high risk and high value first)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cxml.report.context import Badge, ReportContext, View
from cxml.report.format import money, num, pct
from cxml.report.page_figures import inline, survival_figure

#: The list's survival columns by the day they are read at.
SURVIVAL_COLUMNS = {d: f"survival_{d}d" for d in (30, 90, 180, 365)}
BANDS = ("high", "medium", "low")
TIERS = ("top third", "middle third", "bottom third")


def band_curves(scored: pd.DataFrame) -> pd.DataFrame:
    """Per risk band (rows), the mean chance of still being a customer at each day (columns,
    day 0 included) of the list's survival columns."""
    days = [d for d, c in SURVIVAL_COLUMNS.items() if c in scored]
    columns = [SURVIVAL_COLUMNS[d] for d in days]
    means = scored.groupby("churn_risk_band", observed=True)[columns].mean()
    means = means.reindex([b for b in BANDS if b in means.index]).set_axis(days, axis=1)
    return means.assign(**{"0": 1.0}).rename(columns={"0": 0})[[0, *days]]


def value_tiers(value: pd.Series) -> pd.Series:
    """Thirds of the customers by lifetime value (ties kept together by rank order)."""
    share = value.rank(method="first", pct=True, ascending=False).to_numpy()
    tier = np.select([share <= 1 / 3, share <= 2 / 3], TIERS[:2], TIERS[2])
    return pd.Series(tier, index=value.index)


def _cell(part: pd.DataFrame, currency: str, acting: bool) -> str:
    if part.empty:
        return "—"
    words = f"{num(len(part))} · {money(part['lifetime_value'].sum(), currency)}"
    if acting:
        words += f" · {num((part['action'] != 'none').sum())} acted on"
    return words


def value_matrix(scored: pd.DataFrame, currency: str) -> tuple[list[str], list[list[object]]]:
    """Header and rows of the risk band × value tier table: in each cell the customers, their
    lifetime value and (with actions) how many get an action."""
    tiers = value_tiers(scored["lifetime_value"])
    acting = "action" in scored
    header = ["risk band", *[f"value: {t}" for t in TIERS]]
    rows: list[list[object]] = []
    for band in BANDS:
        in_band = scored["churn_risk_band"] == band
        if in_band.any():
            cells = [_cell(scored[in_band & (tiers == t)], currency, acting) for t in TIERS]
            rows.append([Badge(band), *cells])
    return header, rows


def tenure(scored: pd.DataFrame, ctx: ReportContext) -> View:
    if not any(c in scored for c in SURVIVAL_COLUMNS.values()):
        return {"absent": True}
    curves = band_curves(scored)
    image = inline(survival_figure(curves), "share of customers still there by day, per risk band")
    header = ["risk band", "customers", *[f"still there at {d} days" for d in curves.columns[1:]]]
    header.append("expected days (of the next year)")
    rows: list[list[object]] = []
    for band, curve in curves.iterrows():
        part = scored[scored["churn_risk_band"] == band]
        row: list[object] = [Badge(str(band)), num(len(part))]
        row += [pct(v) for v in curve.iloc[1:]]
        row.append(num(part.get("expected_tenure_days", pd.Series(dtype=float)).mean()))
        rows.append(row)
    view: View = {"absent": False, "image": image, "header": header, "rows": rows}
    view["matrix"] = None
    if "lifetime_value" in scored:
        matrix_header, matrix_rows = value_matrix(scored, ctx.currency)
        total = money(scored["lifetime_value"].sum(), ctx.currency)
        acting = "action" in scored
        view["matrix"] = {"header": matrix_header, "rows": matrix_rows, "total": total}
        view["matrix"]["acting"] = acting
    return view
