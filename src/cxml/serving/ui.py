"""The team's page on the server (report/ui.py): /ui the page, /ui/rows a page of the list
(filtered, sorted, at most 1,000 rows), /ui/customer?id= one customer's view. The list is a
scored folder (CXML_SCORED, written by `cxml score --out`), the views are built from the data
dir's history the service loaded (PII columns already dropped). Behind the service's guard, so
the API key, when set, is needed here too."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from cxml.config import PipelineConfig
from cxml.jobs.score_ui import listing
from cxml.report.timeline import customer_views
from cxml.report.ui import Listing, render_ui
from cxml.serving.history import History

SCORED = "scored.parquet"


@dataclass(frozen=True)
class UiData:
    """The scored list as the page shows it, and the history its customers' views come from."""

    listing: Listing
    history: History | None
    roles: dict[str, str]
    page: str  # the page's HTML, rendered once

    @classmethod
    def load(cls, folder: Path, config: PipelineConfig, history: History | None) -> UiData:
        path = folder / SCORED
        if not path.is_file():
            raise ValueError(
                f"CXML_SCORED={folder}: no {SCORED} there; point it at a `cxml score --out` folder"
            )
        scored = pd.read_parquet(path)
        customers = history.customers if history is not None else pd.DataFrame()
        shown = listing(scored, customers, config)
        page = render_ui(shown.meta("server"))
        return cls(shown, history, config.features.taxonomy.aliases, page)

    def view(self, customer_id: str) -> dict[str, object] | None:
        row = self.listing.frame[self.listing.frame["customer_id"] == customer_id]
        if row.empty:
            return None
        if self.history is None or customer_id not in self.history.rows:
            events, actions = (
                pd.DataFrame(columns=["customer_id", "event_time", "event_type"]),
                None,
            )
        else:
            found = self.history.find([customer_id])
            events, actions = found.events, found.actions
        tables, views = customer_views(row, events, actions, self.listing.at, self.roles)
        return {"tables": tables, "view": views[customer_id]}


def ui_app(data: Callable[[], UiData | None]) -> Starlette:
    """The routes under /ui; `data` gives the service's UiData (None: no CXML_SCORED)."""

    def loaded() -> UiData | Response:
        found = data()
        if found is None:
            msg = "no scored list: start the server with CXML_SCORED=<a cxml score --out folder>"
            return JSONResponse({"detail": msg}, status_code=404)
        return found

    async def page(request: Request) -> Response:
        found = loaded()
        return found if isinstance(found, Response) else HTMLResponse(found.page)

    async def rows(request: Request) -> Response:
        found = loaded()
        if isinstance(found, Response):
            return found
        try:
            total, picked = found.listing.query(request.query_params)
        except ValueError as error:
            return JSONResponse({"detail": str(error)}, status_code=400)
        return JSONResponse({"total": total, "rows": picked})

    async def customer(request: Request) -> Response:
        found = loaded()
        if isinstance(found, Response):
            return found
        view = found.view(request.query_params.get("id", ""))
        if view is None:
            return JSONResponse({"detail": "unknown customer id: not in the scored list"}, 404)
        return JSONResponse(view)

    routes = [Route("/", page), Route("/rows", rows), Route("/customer", customer)]
    return Starlette(routes=routes)
