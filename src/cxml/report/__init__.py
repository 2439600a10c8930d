"""Frames in, HTML out: the scoring report and the figures a training run records.

    from cxml.report import ReportContext, render_report
    html = render_report(scored, ReportContext(horizon_days=90, budget=5000))

- `page`: `render_report` and the list of sections; `templates/` holds the page's markup.
- `sections`, `evidence`: what each section shows, gathered from the scored list and context.
- `kpis`: the numbers behind the page (NPS trend, retention, bands, action mix) from frames.
- `format`: how numbers, money and dates are written.
- `page_figures`: the page's inline PNG figures; `figures`: the training run's MLflow figures.

Reading and writing files is the caller's job (`cxml.jobs.score_report` gathers the context).
"""

from cxml.report.context import ReportContext
from cxml.report.page import SECTIONS, render_report

__all__ = ["SECTIONS", "ReportContext", "render_report"]
