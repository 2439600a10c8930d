"""`report.html`: the scored list as one self-contained page a retention team can open or print.

No scripts, stylesheets, fonts or images from anywhere else: the CSS is inline and every plot is a
PNG data URI drawn with matplotlib's `Figure` (no pyplot state). Only scored-list columns are
shown (ids, scores, reasons, actions), never a customer attribute, and the Jinja2 templates
autoescape, so every text is escaped. Equal inputs give an equal page except for the
"Generated at" line.

    html = render_report(scored, ReportContext(horizon_days=90, budget=5000, drift=table))
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from typing import NamedTuple

import jinja2
import pandas as pd
from markupsafe import Markup

from cxml.report.context import Badge, ReportContext, View, first
from cxml.report.evidence import decisions, drift, earlier, model_card, policy, touchpoints
from cxml.report.format import date
from cxml.report.sections import actions, headline, risk, top
from cxml.report.tenure import tenure

REQUIRED = ("customer_id", "churn_probability", "churn_risk_band", "churn_rank")

Builder = Callable[[pd.DataFrame, ReportContext], View]


class Section(NamedTuple):
    """One part of the page: its anchor, its heading, and what gathers its values. Its
    template is templates/sections/<ident>.html.j2."""

    ident: str
    title: str
    build: Builder


SECTIONS: tuple[Section, ...] = (
    Section("kpis", "Headline", headline),
    Section("risk", "Risk distribution", risk),
    Section("top-customers", "Top at-risk customers", top),
    Section("actions", "Actions and budget", actions),
    Section("tenure", "When they leave and what they are worth", tenure),
    Section("policy-value", "Expected value versus baselines", policy),
    Section("touchpoints", "Touchpoint impact", touchpoints),
    Section("drift", "Data drift", drift),
    Section("earlier", "How earlier scorings turned out", earlier),
    Section("decisions", "How earlier decisions turned out", decisions),
    Section("model-card", "Model card", model_card),
)


@cache
def environment() -> jinja2.Environment:
    """Templates from the package itself; autoescape on for every template, and an unknown
    name in a template is an error rather than an empty string."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("cxml.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.tests["badge"] = lambda value: isinstance(value, Badge)
    return env


def _check(scored: pd.DataFrame) -> None:
    absent = [c for c in REQUIRED if c not in scored]
    if absent:
        raise ValueError(
            f"the scored list lacks {absent}: render the report from `cxml score` output,"
            f" which has {list(REQUIRED)}"
        )


def _subtitle(scored: pd.DataFrame, ctx: ReportContext) -> str:
    parts = [f"Cutoff {date(first(scored, 'cutoff', ctx.cutoff))}"]
    if ctx.horizon_days:
        parts.append(f"risk over the next {ctx.horizon_days} days")
    name = first(scored, "model_name", ctx.model_name)
    version = first(scored, "model_version", ctx.model_version)
    if name:
        parts.append(f"model {name}" + (f" version {version}" if version else ""))
    return " · ".join(parts)


def _section(section: Section, scored: pd.DataFrame, ctx: ReportContext) -> Markup:
    template = environment().get_template(f"sections/{section.ident}.html.j2")
    return Markup(template.render(section.build(scored, ctx)))


def render_report(scored: pd.DataFrame, context: ReportContext | None = None) -> str:
    """The whole report as one self-contained HTML string (write it atomically)."""
    ctx = context or ReportContext()
    _check(scored)
    parts = [(s.ident, s.title, _section(s, scored, ctx)) for s in SECTIONS]
    return (
        environment()
        .get_template("page.html.j2")
        .render(
            subtitle=_subtitle(scored, ctx),
            sections=parts,
            generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        )
    )
