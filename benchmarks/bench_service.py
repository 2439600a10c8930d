"""The HTTP service under load: latency of /predict (one customer, ~100 events) at concurrency 1
and 8 and requests per second, next to the in-process cost of the same `Scorer.score` call; then
a sustained run that must show no errors and no memory growth (target: p99 <= 10 ms, >= 300
req/s per worker on 2 cores).

It runs the real server (`python -m bentoml serve cxml.service:CxmlService`) on a small simulated
data dir with a freshly trained model in a temporary MLflow store, with the helpers tests/service
uses for its own server and short load test (tests/service/server.py and load.py).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tests.service.load import call_sizes, check_load, load_run, pick_customer, request_body
from tests.service.server import CUTOFF, Server, prepare, tracking_env


def _in_process(scorer: Any, body: dict[str, Any], repeat: int) -> dict[str, np.ndarray]:
    """Milliseconds per call, without HTTP: the service's own work on this body (parse, checks,
    tables, answer), the scoring it runs (`scored_rows`: features, `Scorer.score`, records),
    the same for 8 such requests coalesced into one call (per request), and the same scoring
    framed as batch scoring and notebooks get it."""
    from cxml.serving.checks import Profile
    from cxml.serving.schemas import PredictRequest
    from cxml.serving.tables import answer, scored_rows, tables

    raw = json.dumps(body).encode()
    profile = Profile.of(scorer.bundle, ())
    at = pd.Timestamp(CUTOFF)
    shared = "scored_rows, 8 per call (each)"
    times: dict[str, list[float]] = {
        "Scorer.score, framed": [],
        "scored_rows": [],
        shared: [],
        "own": [],
    }
    for _ in range(repeat):
        start = time.perf_counter()
        request = PredictRequest.model_validate_json(raw)
        profile.problems(request.customer.attributes, [])
        events, customers = tables([(request.customer, request.events)], profile)
        middle = time.perf_counter()
        rows = scored_rows(scorer, events, customers, at.to_pydatetime())
        end = time.perf_counter()
        answer(rows[0], at.to_pydatetime()).model_dump_json()
        times["own"].append((middle - start + time.perf_counter() - end) * 1e3)
        times["scored_rows"].append((end - middle) * 1e3)
        start = time.perf_counter()
        features = scorer.bundle.features(events, customers, at)
        scorer.score(features, at).frame()
        times["Scorer.score, framed"].append((time.perf_counter() - start) * 1e3)
        eight = [(request.customer, request.events)] * 8
        events, customers = tables(eight, profile, [str(i) for i in range(8)])
        start = time.perf_counter()
        scored_rows(scorer, events, customers, at.to_pydatetime())
        times[shared].append((time.perf_counter() - start) * 1e3 / 8)
    return {label: np.array(ms[5:]) for label, ms in times.items()}


def run() -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # as the service does, for a fair comparison
    from cxml.data.load import load_data_dir
    from cxml.jobs.score import load_scorer
    from cxml.serving.checks import Profile

    with tempfile.TemporaryDirectory(prefix="cxml-bench-service-") as tmp:
        prepared = prepare(Path(tmp))
        with tracking_env(prepared.workdir, prepared.tracking_uri):
            scorer = load_scorer(prepared.model_name, prepared.version)
        tables = load_data_dir(prepared.data_dir).tables
        events, customers = tables["events"], tables["customers"]
        cid = pick_customer(events, CUTOFF)
        before = events[(events["customer_id"].astype(str) == cid)]
        before = before[before["event_time"] < pd.Timestamp(CUTOFF)]
        row = customers[customers["customer_id"].astype(str) == cid].iloc[0]
        body = request_body(row, before, Profile.of(scorer.bundle, ()).names)
        raw = json.dumps(body).encode()
        print(f"service (/predict, one customer with {len(before)} events, {len(raw):,} bytes)")
        ids = customers["customer_id"].astype(str).sample(64, random_state=0)
        with Server(prepared, api_key="bench") as server:
            _over_http(server, raw, list(ids))
        measured = _in_process(scorer, body, 205)
        measured["service's own work"] = measured.pop("own")
        for label, ms in measured.items():
            p50, p99 = np.percentile(ms, 50), np.percentile(ms, 99)
            print(f"  in-process {label:<37} p50 {p50:6.1f} ms  p99 {p99:6.1f} ms")
        print("  (targets over HTTP: p99 <= 10 ms, >= 300 req/s per worker)\n")


def _over_http(server: Server, raw: bytes, ids: list[str]) -> None:
    """/predict with one body at concurrency 1 and 8, /predict_by_id for `ids` in turn, then a
    sustained run that must fail nothing and not grow the server's memory."""
    load_run(server.url, server.headers, raw, 3.0, 2)  # warm-up
    for concurrency in (1, 8):
        calls_before, _ = call_sizes(server.url)
        result = load_run(server.url, server.headers, raw, 10.0, concurrency)
        calls = call_sizes(server.url)[0] - calls_before
        print(f"  concurrency {concurrency}        {result.describe()}")
        print(f"    {result.requests / max(calls, 1):.1f} requests per model call")
    by_id = [json.dumps({"customer_id": c, "as_of": CUTOFF}).encode() for c in ids]
    for concurrency in (1, 8):
        result = load_run(
            server.url, server.headers, by_id, 10.0, concurrency, path="/predict_by_id"
        )
        print(f"  /predict_by_id, {len(ids)} customers in turn, concurrency {concurrency}")
        print(f"                        {result.describe()}")
    sustained = load_run(server.url, server.headers, raw, 20.0, 8, server.rss)
    growth = (sustained.rss_end - sustained.rss_mid) / 2**20
    print(
        f"  sustained 20 s at 8   {len(sustained.errors)} errors, server RSS "
        f"{sustained.rss_end / 2**20:.0f} MiB (second half {growth:+.1f} MiB)"
    )
    check_load(sustained)
