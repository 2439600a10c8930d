"""`monitor.html`: one self-contained page saying whether the registered model still fits the
data, what it should achieve on the customers it scores now, and how its earlier scorings and
the decisions taken on them turned out. Same rules as `report.html` (inline CSS and PNG figures,
autoescaped templates, customer ids and scores only)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import pandas as pd
from markupsafe import Markup

from cxml.report.context import Badge, ReportContext, View
from cxml.report.evidence import earlier
from cxml.report.format import DASH, date, num, pct
from cxml.report.page import environment
from cxml.report.page_figures import distribution_figure, inline

PLOTTED = 6  # the most drifted features drawn as reference-versus-now distributions
LISTED = 15  # features listed in the drift table when none crossed
#: The monitor section's one setting that sets no alert: how many closed scorings are judged.
JUDGED = "judged_scorings"


@dataclass(frozen=True)
class MonitorContext:
    """What the page shows; each part may be empty, and its section says so."""

    model_name: str
    model_version: str
    cutoff: pd.Timestamp
    horizon_days: int
    customers: int
    expected: dict[str, float]  # models.monitoring.expected_performance
    thresholds: dict[str, float]  # config.MonitorConfig as plain data
    alerts: list[str] = field(default_factory=list)
    drift: pd.DataFrame | None = None  # models.monitoring.drift_table
    #: feature -> (bin names, training shares, current shares), for the most drifted features
    distributions: dict[str, tuple[list[str], np.ndarray, np.ndarray]] = field(default_factory=dict)
    test_auc: float | None = None
    training_churn_rate: float | None = None
    earlier: pd.DataFrame = field(default_factory=pd.DataFrame)  # models.monitoring.Outcomes
    earlier_older: int = 0  # closed scorings older than those judged (Outcomes.older)
    pending: pd.DataFrame = field(default_factory=pd.DataFrame)
    decisions: pd.DataFrame = field(default_factory=pd.DataFrame)


def _drift(ctx: MonitorContext) -> View:
    table = ctx.drift
    if table is None or table.empty:
        return {"given": False}
    crossed = table[table["crossed"]]
    shown = crossed if len(crossed) else table.head(LISTED)
    rows = [
        [r.feature, num(r.psi, 3), num(r.noise, 3), Badge(str(r.status))]
        for r in shown.itertuples()
    ]
    images = [
        inline(distribution_figure(*found), f"{name}: share of customers per bin, then and now")
        for name, found in ctx.distributions.items()
    ]
    share = len(crossed) / len(table)
    return {
        "given": True,
        "alert": share > ctx.thresholds["max_drift_share"],
        "moved": len(crossed),
        "features": len(table),
        "share": num(share, 3),
        "rows": rows,
        "all_listed": len(crossed) > 0,
        "images": list(zip(ctx.distributions, images, strict=True)),
    }


def _expected(ctx: MonitorContext) -> View:
    e = ctx.expected
    change = DASH
    if ctx.test_auc is not None:
        drop = ctx.test_auc - e["expected_auc"]
        change = f"{num(abs(drop), 3)} {'below' if drop >= 0 else 'above'} the test AUC"
    sd = e["churners_sd"]
    return {
        "auc": num(e["expected_auc"], 3),
        "test_auc": num(ctx.test_auc, 3),
        "change": change,
        "churners": num(e["expected_churners"]),
        "churners_range": f"{num(e['expected_churners'] - 2 * sd)} to "
        f"{num(e['expected_churners'] + 2 * sd)}",
        "rate": pct(e["expected_churn_rate"]),
        "training_rate": pct(ctx.training_churn_rate),
        "ece_by_chance": num(e["ece_by_chance"], 3),
    }


def _pending(ctx: MonitorContext) -> list[list[str]]:
    if ctx.pending.empty:
        return []
    frame = ctx.pending.sort_values("cutoff", ascending=False)
    return [
        [date(r.cutoff), f"v{r.model_version}", num(r.customers), date(r.closes)]
        for r in frame.itertuples()
    ]


def _decisions(ctx: MonitorContext) -> list[list[str]]:
    if ctx.decisions.empty:
        return []
    frame = ctx.decisions.sort_values("cutoff", ascending=False, kind="stable")
    return [
        [
            date(r.cutoff),
            str(r.group),
            num(r.customers),
            pct(r.expected_churn),
            pct(r.realised_churn),
            num(100 * r.gap, 1, " pts", sign=True),
        ]
        for r in frame.itertuples()
    ]


def render_monitor(ctx: MonitorContext) -> str:
    """The whole page as one self-contained HTML string (write it atomically)."""
    # the scoring report's own section, so both pages say the same of earlier scorings
    view = earlier(
        pd.DataFrame(),
        ReportContext(
            earlier=ctx.earlier, earlier_older=ctx.earlier_older, horizon_days=ctx.horizon_days
        ),
    )
    section = Markup(environment().get_template("sections/earlier.html.j2").render(view))
    return (
        environment()
        .get_template("monitor.html.j2")
        .render(
            subtitle=f"Cutoff {date(ctx.cutoff)} · model {ctx.model_name} version "
            f"{ctx.model_version} · {num(ctx.customers)} customers",
            alerts=ctx.alerts,
            drift=_drift(ctx),
            expected=_expected(ctx),
            earlier=section,
            pending=_pending(ctx),
            decisions=_decisions(ctx),
            horizon_days=ctx.horizon_days,
            thresholds=[(k, str(v)) for k, v in ctx.thresholds.items() if k != JUDGED],
            judged=ctx.thresholds.get(JUDGED),
            generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        )
    )
