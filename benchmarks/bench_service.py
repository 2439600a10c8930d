"""The HTTP service under load: latency of /predict (one customer, ~100 events) at concurrency 1
and 8 and requests per second, next to the in-process cost of the same `Scorer.score` call; then
a sustained run that must show no errors and no memory growth (target: p99 <= 10 ms, >= 300
req/s per worker on 2 cores). Beside it, in the same run and with the same load, a bare
Starlette + LightGBM server (benchmarks/raw_server.py) answering with the churn booster's
prediction for a ready-made feature row of the same customer: what serving the model alone
costs on this machine now (issue 26: cxml's req/s at concurrency 8 >= 50% of it). And BentoML
alone (benchmarks/floor_service.py: cxml's schemas and service settings, no work): what any
BentoML service answering these requests costs here, the floor under cxml's own latency
(issue 26: p99 at concurrency 1 <= 5 ms).

It runs the real server (`python -m bentoml serve cxml.service:CxmlService`) on a small simulated
data dir with a freshly trained model in a temporary MLflow store, with the helpers tests/service
uses for its own server and short load test (tests/service/server.py and load.py).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tests.service.load import (
    LoadResult,
    call_sizes,
    check_load,
    load_run,
    pick_customer,
    request_body,
)
from tests.service.server import CUTOFF, REPO, Prepared, Server, prepare, tracking_env

SECONDS = 10.0  # each measured load run, cxml's and the bare server's alike


class RawServer(Server):
    """benchmarks/raw_server.py under uvicorn, one worker, no access log, OMP_NUM_THREADS=1 (as
    cxml's service is served), with `Server`'s port, readiness wait and stop."""

    def __init__(self, prepared: Prepared, model: Path, row: Path) -> None:
        super().__init__(prepared, RAW_MODEL=str(model), RAW_ROW=str(row))
        self.log = prepared.workdir / f"raw-server-{self.port}.log"

    def command(self) -> list[str]:
        return [
            *(sys.executable, "-m", "uvicorn", "--factory", "benchmarks.raw_server:from_env"),
            *("--app-dir", str(REPO), "--host", "127.0.0.1", "--port", str(self.port)),
            *("--workers", "1", "--no-access-log", "--log-level", "warning"),
        ]


class FloorServer(Server):
    """benchmarks/floor_service.py under `bentoml serve`, as cxml's service is served: BentoML
    with cxml's schemas and no work. Its own BentoML home: a BentoML server clears the metrics
    folder there when it starts, and cxml's server's call sizes are read from it."""

    def __init__(self, prepared: Prepared) -> None:
        super().__init__(prepared, BENTOML_HOME=str(prepared.workdir / "bentoml-floor"))

    def command(self) -> list[str]:
        return [
            *(sys.executable, "-m", "bentoml", "serve", "benchmarks.floor_service:FloorService"),
            *("--working-dir", str(REPO), "--host", "127.0.0.1", "--port", str(self.port)),
        ]


def _raw_model(scorer: Any, events: pd.DataFrame, customer: pd.DataFrame, folder: Path) -> None:
    """The churn booster (its best rounds) and the customer's encoded feature row at the
    cutoff, saved where the bare server loads them: built once here, not per request."""
    bundle = scorer.bundle
    boosted = bundle.models["churn"].boosted
    boosted.booster_.save_model(folder / "churn.txt", num_iteration=boosted.best_iteration_)
    features = bundle.features(events, customer, pd.Timestamp(CUTOFF))
    np.save(folder / "row.npy", bundle.encode(features))


def _in_process(scorer: Any, body: dict[str, Any], repeat: int) -> dict[str, np.ndarray]:
    """Milliseconds per call, without HTTP: the service's own work on this body (parse, checks,
    tables, answer), the scoring it runs (`scored_rows`: features, `Scorer.score`, records),
    the same for 8 such requests coalesced into one call (per request), and the same scoring
    framed as batch scoring and notebooks get it."""
    from cxml.serving.checks import Checks, Profile
    from cxml.serving.schemas import PredictRequest
    from cxml.serving.sent import SentEvents
    from cxml.serving.tables import answer, scored_rows, tables, unknown_touchpoints

    raw = json.dumps(body).encode()
    profile = Profile.of(scorer.bundle, ())
    checks = Checks(profile, max_events=10_000, max_batch=1_000)
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
        sent = SentEvents.of(request.events)
        assert not checks.predict(request.customer, sent, None)
        events, customers = tables([(request.customer, sent)], profile)
        middle = time.perf_counter()
        rows = scored_rows(scorer, events, customers, at.to_pydatetime())
        end = time.perf_counter()
        notes = unknown_touchpoints(sent, scorer.bundle.feature_config)
        answer(rows[0], at.to_pydatetime(), notes).model_dump_json()
        times["own"].append((middle - start + time.perf_counter() - end) * 1e3)
        times["scored_rows"].append((end - middle) * 1e3)
        start = time.perf_counter()
        features = scorer.bundle.features(events, customers, at)
        scorer.score(features, at).frame()
        times["Scorer.score, framed"].append((time.perf_counter() - start) * 1e3)
        eight = [(request.customer, sent)] * 8
        events, customers = tables(eight, profile, [str(i) for i in range(8)])
        start = time.perf_counter()
        scored_rows(scorer, events, customers, at.to_pydatetime())
        times[shared].append((time.perf_counter() - start) * 1e3 / 8)
    return {label: np.array(ms[5:]) for label, ms in times.items()}


def run() -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # as the service does, for a fair comparison
    from cxml.data.load import load_data_dir
    from cxml.jobs.score import load_scorer
    from cxml.scoring import scoring_population
    from cxml.serving.checks import Profile

    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"load average at start (1, 5, 15 min): {load} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="cxml-bench-service-") as tmp:
        prepared = prepare(Path(tmp))
        with tracking_env(prepared.workdir, prepared.tracking_uri):
            scorer = load_scorer(prepared.model_name, prepared.version)
        tables = load_data_dir(prepared.data_dir).tables
        events, customers = tables["events"], tables["customers"]
        cid = pick_customer(events, CUTOFF)
        before = events[(events["customer_id"].astype(str) == cid)]
        before = before[before["event_time"] < pd.Timestamp(CUTOFF)]
        customer = customers[customers["customer_id"].astype(str) == cid]
        _raw_model(scorer, before, customer, Path(tmp))
        body = request_body(customer.iloc[0], before, Profile.of(scorer.bundle, ()).names)
        raw = json.dumps(body).encode()
        print(f"service (/predict, one customer with {len(before)} events, {len(raw):,} bytes)")
        # drawn from whom the model speaks for at the cutoff: anyone else is (rightly) a 409
        at = pd.Timestamp(CUTOFF)
        scored = scoring_population(events, customers, at, scorer.bundle.labels)
        ids = scored["customer_id"].astype(str).sample(64, random_state=0)
        raw_server = RawServer(prepared, Path(tmp) / "churn.txt", Path(tmp) / "row.npy")
        with (
            Server(prepared, api_key="bench") as server,
            raw_server,
            FloorServer(prepared) as floor,
        ):
            _over_http(server, raw_server, floor, raw, list(ids))
        measured = _in_process(scorer, body, 205)
        measured["service's own work"] = measured.pop("own")
        for label, ms in measured.items():
            p50, p99 = np.percentile(ms, 50), np.percentile(ms, 99)
            print(f"  in-process {label:<37} p50 {p50:6.1f} ms  p99 {p99:6.1f} ms")
        print("  (targets over HTTP: p99 <= 10 ms, >= 300 req/s per worker)\n")


def _over_http(
    server: Server, bare: RawServer, floor: FloorServer, raw: bytes, ids: list[str]
) -> None:
    """/predict with one body at concurrency 1 and 8, then the bare server the same way, and
    the two side by side; /predict_by_id for `ids` in turn, then a sustained run that must fail
    nothing and not grow the server's memory."""
    load_run(server.url, server.headers, raw, 3.0, 2)  # warm-up
    cxml: dict[int, LoadResult] = {}
    for concurrency in (1, 8):
        calls_before, _ = call_sizes(server.url)
        cxml[concurrency] = result = load_run(server.url, server.headers, raw, SECONDS, concurrency)
        calls = call_sizes(server.url)[0] - calls_before
        print(f"  concurrency {concurrency}        {result.describe()}")
        print(f"    {result.requests / max(calls, 1):.1f} requests per model call")
    _beside_bare(bare, floor, raw, cxml)
    by_id = [json.dumps({"customer_id": c, "as_of": CUTOFF}).encode() for c in ids]
    for concurrency in (1, 8):
        result = load_run(
            server.url, server.headers, by_id, SECONDS, concurrency, path="/predict_by_id"
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


def _beside_bare(
    bare: RawServer, floor: FloorServer, raw: bytes, cxml: dict[int, LoadResult]
) -> None:
    """The bare Starlette + LightGBM server, then BentoML doing no work, under the same load as
    cxml's /predict just had; then the issue's two comparisons: req/s at concurrency 8, p99 at
    concurrency 1, with BentoML's own p99 beside it."""
    runs: dict[str, dict[int, LoadResult]] = {}
    for name, server, title in (
        (
            "bare",
            bare,
            "bare Starlette + LightGBM server (parse JSON, predict one ready row, answer JSON)",
        ),
        ("floor", floor, "BentoML alone: cxml's schemas and settings, no work (a fixed answer)"),
    ):
        load_run(server.url, server.headers, raw, 3.0, 2)  # warm-up
        print(f"  {title}")
        runs[name] = {}
        for concurrency in (1, 8):
            result = load_run(server.url, server.headers, raw, SECONDS, concurrency)
            runs[name][concurrency] = result
            print(f"    concurrency {concurrency}      {result.describe()}")
            check_load(result)
    base, alone = runs["bare"], runs["floor"]
    share = cxml[8].per_second / base[8].per_second
    print(
        f"  cxml / bare req/s at concurrency 8: {cxml[8].per_second:.0f} / "
        f"{base[8].per_second:.0f} = {share:.2f} (target >= 0.50); BentoML alone "
        f"{alone[8].per_second:.0f}"
    )
    print(
        f"  p99 at concurrency 1: cxml {cxml[1].percentile(99):.1f} ms, bare "
        f"{base[1].percentile(99):.1f} ms, BentoML alone {alone[1].percentile(99):.1f} ms "
        "(target: cxml <= 5 ms on a quiet machine)"
    )


def main() -> None:
    """`make bench-service`: this section alone, rewritten in docs/performance.md."""
    from benchmarks import report

    report.record_alone("service", "Serving over HTTP", "make bench-service", run)


if __name__ == "__main__":
    main()
