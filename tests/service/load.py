"""Requests and load for the served model: a /predict body for a customer of the data dir, clients
posting back to back, and what /metrics says of shared model calls. tests/service runs a short
load; benchmarks/bench_service.py the long ones."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np
import pandas as pd

from tests.service.server import CUTOFF

RSS_GROWTH_MIB = 32  # allowed growth of the server's memory over the second half of a load run


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else value


def request_body(
    customer: pd.Series, events: pd.DataFrame, attributes: Iterable[str], as_of: str | None = CUTOFF
) -> dict[str, Any]:
    """The /predict body for a customer of a data dir: the attributes the model knows, all its
    events (those at or after as_of included: the service must ignore them)."""
    signup = customer.get("signup_time")
    body: dict[str, Any] = {
        "customer": {
            "customer_id": str(customer["customer_id"]),
            "signup_time": None if pd.isna(signup) else signup.isoformat(),
            "attributes": {name: _plain(customer.get(name)) for name in attributes},
        },
        "events": [
            {
                "event_time": row.event_time.isoformat(),
                "event_type": str(row.event_type),
                "channel": None if pd.isna(row.channel) else str(row.channel),
                "value": _plain(row.value),
                "text": None if pd.isna(row.text) else str(row.text),
            }
            for row in events.itertuples(index=False)
        ],
    }
    if as_of is not None:
        body["as_of"] = as_of
    return body


@dataclass
class LoadResult:
    seconds: float
    latencies_ms: np.ndarray
    errors: list[str] = field(default_factory=list)
    rss_mid: int = 0
    rss_end: int = 0

    @property
    def requests(self) -> int:
        return len(self.latencies_ms) + len(self.errors)

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.latencies_ms, q)) if len(self.latencies_ms) else np.nan

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds

    def describe(self) -> str:
        return (
            f"p50 {self.percentile(50):6.1f} ms  p99 {self.percentile(99):6.1f} ms  "
            f"{self.per_second:6.0f} req/s  ({self.requests:,} requests, {len(self.errors)} errors)"
        )


def load_run(
    url: str,
    headers: dict[str, str],
    body: bytes | list[bytes],
    seconds: float,
    concurrency: int,
    rss: Callable[[], int] | None = None,
    path: str = "/predict",
) -> LoadResult:
    """`concurrency` clients posting `body` back to back for `seconds` (a list: each client
    takes them in turn, from its own starting place); memory sampled at the half-way point and
    at the end when `rss` is given."""
    bodies = body if isinstance(body, list) else [body]
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    started = time.perf_counter()
    send = {**headers, "Content-Type": "application/json"}

    def client(start: int) -> None:
        for problem, ms in _posts(url, send, path, bodies, start, started + seconds):
            with lock:
                if problem:
                    errors.append(problem)
                else:
                    latencies.append(ms)

    threads = [
        threading.Thread(target=client, args=(i * len(bodies) // concurrency,), daemon=True)
        for i in range(concurrency)
    ]
    for thread in threads:
        thread.start()
    result = LoadResult(seconds, np.empty(0), errors)
    if rss is not None:
        time.sleep(seconds / 2)
        result.rss_mid = rss()
    for thread in threads:
        thread.join()
    result.seconds = time.perf_counter() - started
    result.latencies_ms = np.array(latencies)
    if rss is not None:
        result.rss_end = rss()
    return result


def _posts(
    url: str, headers: dict[str, str], path: str, bodies: list[bytes], start: int, stop_at: float
) -> Iterator[tuple[str | None, float]]:
    """One client's requests, back to back until `stop_at`, the bodies in turn from `start`:
    (problem, milliseconds) for each, the problem None when it was answered 200."""
    turn = itertools.count(start)
    with httpx.Client(base_url=url, headers=headers, timeout=30.0) as http:
        while (now := time.perf_counter()) < stop_at:
            try:
                response = http.post(path, content=bodies[next(turn) % len(bodies)])
                problem = None if response.status_code == 200 else response.text[:200]
                problem = problem and f"{response.status_code}: {problem}"
            except httpx.HTTPError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            yield problem, (time.perf_counter() - now) * 1e3


def check_load(result: LoadResult) -> None:
    """No failed request, and no memory growth between the first and second half of a run."""
    if result.errors:
        raise RuntimeError(f"{len(result.errors)} failed requests, e.g. {result.errors[:3]}")
    growth = (result.rss_end - result.rss_mid) / 2**20
    if growth >= RSS_GROWTH_MIB:
        raise RuntimeError(f"server RSS grew {growth:.1f} MiB in the second half of the run")


def call_sizes(url: str, endpoint: str = "/predict") -> tuple[float, float]:
    """(model calls for `endpoint` so far, of which with one request alone), from /metrics."""
    text = httpx.get(f"{url}/metrics", timeout=10.0).text
    labelled = f'endpoint="{endpoint}"'
    total = alone = 0.0
    for line in text.splitlines():
        if not line.startswith("cxml_predict_call_size") or labelled not in line:
            continue
        if line.startswith("cxml_predict_call_size_count"):
            total += float(line.split()[-1])
        elif line.startswith("cxml_predict_call_size_bucket") and 'le="1.0"' in line:
            alone += float(line.split()[-1])
    return total, alone


def pick_customer(events: pd.DataFrame, cutoff: str, n_events: int = 100) -> str:
    """The customer with the number of events before the cutoff closest to `n_events`."""
    seen = events[events["event_time"] < pd.Timestamp(cutoff)]
    counts = seen.groupby(seen["customer_id"].astype(str)).size()
    return str((counts - n_events).abs().sort_values(kind="stable").index[0])
