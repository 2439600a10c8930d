"""The team's page (report/ui.py) with a large list: how long `cxml score` spends writing the
static folder, the memory that adds and how big it is, how soon Chromium shows the first rows
of the static folder, and how long the server takes for a page of rows and for one customer's
view.

The customers and their histories are the simulator's; the scores are drawn at random (the
page's work does not depend on what a model said): a churn probability, its band by rank, an
action of the demo catalog and three reasons of a few dozen texts, as a scored list has them.

Run: `python -m benchmarks.bench_ui` (CXML_BENCH_CUSTOMERS, default 100000; also part of
`make bench`).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmarks.bench_scaling import _peak_rss, _reset_peak, _rss
from cxml.data.simulate import SimConfig, Simulation, simulate
from cxml.report.timeline import chunked_views, customer_views
from cxml.report.ui import Listing, static_files

ACTIONS = ["none", "discount", "support_callback", "loyalty_upgrade", "education_email"]
FAMILIES = ["support", "voice", "monetary", "profile", "activity"]


def scored_list(sim: Simulation, seed: int = 0) -> pd.DataFrame:
    """A scored list's columns for every simulated customer, with random scores."""
    rng = np.random.default_rng(seed)
    ids = sim.customers["customer_id"].astype(str).to_numpy()
    n = len(ids)
    churn = rng.beta(1, 6, n)
    rank = np.empty(n, dtype=int)
    rank[np.argsort(-churn)] = np.arange(1, n + 1)
    texts = [f"{k} support tickets from the last 90 days still unresolved" for k in range(1, 6)]
    texts += [f"last NPS score {k}" for k in range(11)] + ["contract: monthly"]
    frame = pd.DataFrame(
        {
            "customer_id": ids,
            "cutoff": pd.Timestamp("2025-06-30", tz="UTC"),
            "churn_probability": churn,
            "churn_risk_band": np.where(
                rank <= n // 10, "high", np.where(rank <= n // 3, "medium", "low")
            ),
            "churn_rank": rank,
            "satisfaction_drop_probability": rng.beta(1, 8, n),
            "action": rng.choice(ACTIONS, n),
            "action_expected_gain": rng.gamma(2, 10, n),
            "action_cost": 10.0,
            "action_reason": "",
            "runner_up_action": rng.choice(ACTIONS, n),
            "customer_value": rng.gamma(4, 60, n),
            "explained": rank <= n // 10,
            "model_name": "bench",
            "model_version": "1",
        }
    )
    for i in (1, 2, 3):
        frame[f"reason_{i}"] = np.where(frame["explained"], rng.choice(texts, n), "")
        frame[f"reason_family_{i}"] = np.where(frame["explained"], rng.choice(FAMILIES, n), "")
    return frame


def _first_rows(index: Path) -> float:
    """Milliseconds from navigation to the first rows on screen, in headless Chromium."""
    from playwright.sync_api import sync_playwright
    from tests.browser.test_report_browser import ARGS, CHROMIUM

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            page = browser.new_page()
            page.goto(index.as_uri())
            page.wait_for_selector("body[data-ready='1']", timeout=120_000)
            return float(page.evaluate("performance.now()"))
        finally:
            browser.close()


def run(sim: Simulation) -> None:
    scored = scored_list(sim)
    n = len(scored)
    segments = pd.Series(
        sim.customers["segment"].astype(str).to_numpy(), index=scored["customer_id"]
    )
    sizes: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _reset_peak()
        before = _rss()
        start = time.perf_counter()
        listing = Listing.of(scored, segments, "€")
        chunks = chunked_views(listing.frame, sim.events, sim.actions, "2025-06-30")
        for name, make in static_files(listing, chunks).items():  # as `cxml score` writes it
            text = make()
            sizes[name] = len(text.encode())
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_text(text, encoding="utf-8")
        build = time.perf_counter() - start
        added = _peak_rss() - before
        start = time.perf_counter()
        plain = sim.events.to_csv(index=False)  # the baseline: every event as text, plain pandas
        baseline = time.perf_counter() - start
        chunk_sizes = [size for name, size in sizes.items() if name.startswith("data/c")]
        shown = int((sim.events["event_time"] < pd.Timestamp("2025-06-30", tz="UTC")).sum())
        print("team's page (static folder ui/)")
        print(f"  customers            {n:>12,}")
        print(f"  events shown         {shown:>12,}")
        print(
            f"  build and write      {build:>12.1f} s   (views, list and chunks, a chunk at a time)"
        )
        print(
            f"  baseline             {baseline:>12.1f} s   (pandas to_csv of the same events, "
            f"{len(plain.encode()) / 1e6:,.0f} MB): page {build / baseline:.1f}x that"
        )
        print(
            f"  memory added         {added / 2**30:>12.2f} GiB (peak RSS while building and "
            f"writing, over what was held before)"
        )
        print(f"  folder size          {sum(sizes.values()) / 1e6:>12.1f} MB")
        print(f"  list.js              {sizes['data/list.js'] / 1e6:>12.1f} MB (at open)")
        print(
            f"  largest chunk        {max(chunk_sizes) / 1e6:>12.2f} MB "
            "(loaded when a customer is opened)"
        )
        try:
            ms = _first_rows(folder / "index.html")
            print(
                f"  first rows (static)  {ms:>12,.0f} ms in headless Chromium (navigation to rows)"
            )
        except (Exception, pytest.skip.Exception) as error:  # no Chromium here: say so, go on
            print(f"  first rows (static)  not measured: {type(error).__name__}")
    queries = {
        "first page": {},
        "band + action": {"band": "high", "action": "discount"},
        "family, by gain": {"family": "support", "sort": "gain", "desc": "1"},
        "id search": {"q": str(scored["customer_id"].iloc[n // 2])[:-2]},
        "last page": {"offset": str(n - 100)},
    }
    print("team's page (server: /ui/rows, /ui/customer)")
    for name, params in queries.items():
        times = []
        for _ in range(5):
            start = time.perf_counter()
            listing.query(params)
            times.append(time.perf_counter() - start)
        print(f"  rows: {name:<14}{1e3 * float(np.median(times)):>12.1f} ms (median of 5)")
    one = listing.frame.iloc[[n // 2]]
    cid = str(one["customer_id"].iloc[0])
    mine = sim.events[sim.events["customer_id"].astype(str) == cid]
    start = time.perf_counter()
    customer_views(one, mine, None, "2025-06-30")
    ms = 1e3 * (time.perf_counter() - start)
    print(f"  one customer's view  {ms:>12.1f} ms ({len(mine)} events)\n")


def main() -> None:
    """`python -m benchmarks.bench_ui`: print, then rewrite its section of docs/performance.md."""
    from benchmarks import report

    customers = int(os.environ.get("CXML_BENCH_CUSTOMERS", "100000"))
    simulation = simulate(SimConfig(customers=customers, seed=0))
    report.record_alone(
        "ui", "The team's page", "python -m benchmarks.bench_ui", lambda: run(simulation)
    )


if __name__ == "__main__":
    main()
