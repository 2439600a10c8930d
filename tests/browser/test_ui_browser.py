"""The team's page in a real headless Chromium, both ways it reaches a user: the static folder
`cxml score --out` writes (opened from disk) and /ui on the real server with an API key. A small
simulation, a model trained and registered in a temporary MLflow store, scored with
`run_score`; what the page shows is checked against scored.csv and the data dir."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from cxml.config import load_config
from cxml.data.load import load_data_dir
from cxml.jobs.forget import forget_in_folder
from cxml.jobs.score import run_score
from cxml.report.ui import CHUNK
from tests.browser.test_report_browser import ARGS, CHROMIUM, sync_api
from tests.service.server import Prepared, Server, prepare, tracking_env

CUTOFF = "2025-06-30"
KEY = "ui-key-7d1e"


@dataclass
class Run:
    prepared: Prepared
    out: Path
    scored: pd.DataFrame  # scored.csv as written
    events: pd.DataFrame


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    prepared = prepare(tmp_path_factory.mktemp("ui"))
    out = prepared.workdir / "scored"
    with tracking_env(prepared.workdir, prepared.tracking_uri):
        run_score(load_config(prepared.config), CUTOFF, out)
    scored = pd.read_csv(out / "scored.csv", dtype={"customer_id": str}, keep_default_na=False)
    events = load_data_dir(prepared.data_dir).tables["events"]
    return Run(prepared, out, scored, events)


@pytest.fixture(scope="module")
def server(run: Run) -> Iterator[Server]:
    with Server(run.prepared, api_key=KEY, CXML_SCORED=str(run.out)) as served:
        yield served


class Browser:
    """A page that records console problems and every URL it asks for."""

    def __init__(self, page: Any) -> None:
        self.page, self.problems, self.requests = page, [], []
        page.on("console", self._console)
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        page.on("request", lambda r: self.requests.append(r.url))

    def _console(self, message: Any) -> None:
        if message.type in {"error", "warning"}:
            self.problems.append(f"{message.type}: {message.text}")

    def ids(self) -> list[str]:
        self.page.wait_for_selector("body[data-ready='1']")
        return self.page.eval_on_selector_all("#rows tbody tr", "rs => rs.map(r => r.dataset.id)")

    def choose(self, name: str, value: str) -> list[str]:
        self.page.evaluate("document.body.dataset.ready = ''")
        self.page.select_option(f"#{name}", value)
        return self.ids()

    def search(self, text: str) -> list[str]:
        self.page.evaluate("document.body.dataset.ready = ''")
        self.page.fill("#q", text)
        return self.ids()

    def customer(self, customer_id: str) -> dict[str, Any]:
        self.page.evaluate(f"location.hash = 'customer={customer_id}'")
        self.page.wait_for_selector(f"body[data-customer='{customer_id}']")
        return self.page.evaluate(
            """() => ({
              reasons: Array.from(document.querySelectorAll('#reasons li'))
                .map(li => li.firstChild.textContent),
              action: document.querySelector('#c-action').textContent,
              actionLine: document.querySelector('#c-action').parentElement.textContent,
              runnerUp: document.querySelector('#runner-up').textContent,
              churn: document.querySelector('#c-churn').textContent,
              times: Array.from(document.querySelectorAll('#timeline tbody tr'))
                .map(r => r.dataset.time),
              marked: document.querySelectorAll('#timeline tbody tr.marked').length,
            })"""
        )


@pytest.fixture
def browser(request: pytest.FixtureRequest) -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


def _expected(run: Run, **equal: str) -> list[str]:
    rows = run.scored
    for column, value in equal.items():
        rows = rows[rows[column] == value]
    return rows.sort_values("churn_rank")["customer_id"].head(100).tolist()


def _words(action: str) -> str:
    return "no action" if action == "none" else action.replace("_", " ")


def _chosen(run: Run) -> str:
    """An explained customer with events after the cutoff too, which the view must leave out."""
    at = pd.Timestamp(CUTOFF, tz="UTC")
    later = set(run.events.loc[run.events["event_time"] >= at, "customer_id"].astype(str))
    explained = run.scored[run.scored["explained"].astype(str) == "True"]
    return str(next(c for c in explained["customer_id"] if c in later))


def _check_customer(run: Run, shown: dict[str, Any], customer_id: str) -> None:
    row = run.scored.set_index("customer_id").loc[customer_id]
    assert shown["reasons"] == [row[f"reason_{i}"] for i in (1, 2, 3) if row[f"reason_{i}"]]
    assert shown["action"] == _words(row["action"])
    if row["action"] != "none" and row.get("action_gain_low", "") != "":  # the gain's interval
        assert "(90%: " in shown["actionLine"], shown["actionLine"]
    assert shown["runnerUp"] == (_words(row["runner_up_action"]) or "—")
    assert shown["churn"] == f"{100 * float(row['churn_probability']):.1f}%"
    at = pd.Timestamp(CUTOFF, tz="UTC")
    mine = run.events[run.events["customer_id"].astype(str) == customer_id]
    before = mine[mine["event_time"] < at]["event_time"].sort_values(ascending=False)
    assert len(mine) > len(before) > 0  # the customer has events on both sides of the cutoff
    assert shown["times"] == [t.strftime("%Y-%m-%d %H:%M") for t in before]
    if shown["reasons"]:
        assert shown["marked"] > 0


def test_the_static_folder_filters_searches_and_shows_a_customer_as_scored_csv(run, browser):
    index = run.out / "ui" / "index.html"
    page = Browser(browser.new_page())
    page.page.goto(index.as_uri(), wait_until="load")
    assert page.ids() == _expected(run)
    assert page.choose("band", "high") == _expected(run, churn_risk_band="high")
    action = run.scored["action"].value_counts().index[0]
    found = page.choose("action", _words(action))
    assert found == _expected(run, churn_risk_band="high", action=action) and found
    page.choose("band", "")
    page.choose("action", "")
    customer = run.scored.sort_values("churn_rank")["customer_id"].iloc[3]
    ranked = run.scored.sort_values("churn_rank")["customer_id"]
    assert page.search(customer[:-1]) == [c for c in ranked if c.startswith(customer[:-1])][:100]
    assert page.search(customer) == [customer]
    chosen = _chosen(run)
    _check_customer(run, page.customer(chosen), chosen)
    assert page.problems == []
    folder = (run.out / "ui").as_uri()
    assert [u for u in page.requests if not u.startswith(folder)] == []


def test_the_server_page_pages_filters_and_shows_a_customer_behind_the_key(run, server, browser):
    with httpx.Client(base_url=server.url, timeout=30) as client:
        for path in ("/ui/", "/ui/rows", f"/ui/customer?id={run.scored['customer_id'][0]}"):
            assert client.get(path).status_code == 401
            assert client.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401
        keyed = {"Authorization": f"Bearer {KEY}"}
        page2 = client.get("/ui/rows", params={"offset": 100}, headers=keyed).json()
        assert [r["customer_id"] for r in page2["rows"]] == (
            run.scored.sort_values("churn_rank")["customer_id"].iloc[100:200].tolist()
        )
        assert page2["total"] == len(run.scored)
    context = browser.new_context(extra_http_headers={"Authorization": f"Bearer {KEY}"})
    page = Browser(context.new_page())
    page.page.goto(f"{server.url}/ui/", wait_until="load")
    assert page.ids() == _expected(run)
    segment = run.out.parent / "data"  # the segment comes from the customers table
    customers = load_data_dir(segment).tables["customers"]
    segments = customers.set_index(customers["customer_id"].astype(str))["segment"].astype(str)
    first = segments[run.scored["customer_id"]].iloc[0]
    found = page.choose("segment", first)
    ranked = run.scored.sort_values("churn_rank")["customer_id"]
    assert found == [c for c in ranked if segments[c] == first][:100]
    page.page.click("#next")
    chosen = _chosen(run)
    _check_customer(run, page.customer(chosen), chosen)
    assert page.problems == []
    assert [u for u in page.requests if not u.startswith(server.url)] == []


def test_the_static_folder_still_opens_every_customer_after_one_is_forgotten(
    run, browser, tmp_path
):
    """`cxml forget` takes a customer out of a written page: the others keep their ranks, and a
    customer whose chunk comes after the forgotten one's still opens from its own chunk."""
    ranked = run.scored.sort_values("churn_rank")["customer_id"].tolist()
    assert len(ranked) > CHUNK  # a second chunk, after the forgotten customer's
    folder = tmp_path / "scored"
    shutil.copytree(run.out, folder)
    gone, after = ranked[1], ranked[CHUNK]  # the first customer of data/c1.js
    removed = dict(forget_in_folder(folder, {gone}))
    assert removed[str(folder / "ui" / "data" / "list.js")] == 1
    page = Browser(browser.new_page())
    page.page.goto((folder / "ui" / "index.html").as_uri(), wait_until="load")
    assert page.ids() == [c for c in ranked if c != gone][:100]
    assert page.page.text_content("#count") == f"{len(ranked) - 1:,}"
    assert page.search(gone) == []
    shown = page.customer(after)
    row = run.scored.set_index("customer_id").loc[after]
    assert shown["churn"] == f"{100 * float(row['churn_probability']):.1f}%"
    header = page.page.text_content("h2") or ""
    assert f"rank {CHUNK + 1:,} of {len(ranked):,}" in header  # the ranks as scored, gap and all
    assert page.problems == []
