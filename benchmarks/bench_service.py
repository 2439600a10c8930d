"""The HTTP service under load: latency of /predict (one customer, ~100 events) at concurrency 1
and 8 and requests per second, next to the in-process cost of the same `Scorer.score` call; then
a sustained run that must show no errors and no memory growth (target: p99 <= 10 ms, >= 300
req/s per worker on 2 cores).

It runs the real server (`python -m bentoml serve cxml.service:CxmlService`) on a small simulated
data dir with a freshly trained model in a temporary MLflow store. tests/service uses the same
helpers (prepare, Server, load_run) for its own server and short load test.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
SERVICE = "cxml.service:CxmlService"
CUTOFF = "2025-06-30T00:00:00Z"  # the simulator's evaluation cutoff
RSS_GROWTH_MIB = 32  # allowed growth of the server's memory over the second half of a load run


@dataclass(frozen=True)
class Prepared:
    """A simulated data dir, a model trained on it and registered, and a config to serve it."""

    workdir: Path
    data_dir: Path
    config: Path
    tracking_uri: str
    model_name: str
    version: str


@contextmanager
def tracking_env(workdir: Path, tracking_uri: str) -> Iterator[None]:
    """MLflow pointed at the temporary store (and cwd there, for its artifacts), then restored."""
    before_env, before_cwd = os.environ.get("MLFLOW_TRACKING_URI"), Path.cwd()
    os.environ["MLFLOW_TRACKING_URI"] = tracking_uri
    os.chdir(workdir)
    try:
        yield
    finally:
        os.chdir(before_cwd)
        if before_env is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = before_env


def prepare(workdir: Path, customers: int = 2000, seed: int = 21) -> Prepared:
    """Simulate, train a small model (as tests/model/test_training.py does) and register it.
    This data (as tests/model/test_scoring.py's) gives uplift estimates that make some offers
    pay, so answers carry real actions, not only "none"."""
    from cxml.config import PipelineConfig, load_config
    from cxml.jobs.ingest import run_simulate
    from cxml.jobs.train import record, train

    data_dir = workdir / "data"
    run_simulate(data_dir, customers=customers, seed=seed)
    config = load_config(REPO / "pipelines" / "demo.yaml", data_dir=data_dir)
    raw = config.model_dump()
    raw["model"] |= {"max_rounds": 150, "early_stopping_rounds": 20, "threads": 1}
    raw["cutoffs"]["first"] = "2024-07-01"
    raw["actions"]["drop_retreated"] = False  # 2,000 customers: keep every row, so offers pay
    small = PipelineConfig.model_validate(raw)
    trained = train(small)
    uri = f"sqlite:///{workdir / 'mlflow.db'}"
    with tracking_env(workdir, uri):
        run = record(trained, small)
    served = yaml.safe_load((REPO / "pipelines" / "demo.yaml").read_text(encoding="utf-8"))
    served["data"]["dir"] = str(data_dir)
    config_path = workdir / "serve.yaml"
    config_path.write_text(yaml.safe_dump(served), encoding="utf-8")
    return Prepared(workdir, data_dir, config_path, uri, run.model_name, run.version)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """The real BentoML server as a subprocess in its own process group, stopped on exit."""

    def __init__(self, prepared: Prepared, api_key: str | None = None, **env: str) -> None:
        self.prepared, self.api_key, self.port = prepared, api_key, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = prepared.workdir / f"server-{self.port}.log"
        self.env = {
            **os.environ,
            "CXML_CONFIG": str(prepared.config),
            "MLFLOW_TRACKING_URI": prepared.tracking_uri,
            "BENTOML_HOME": str(prepared.workdir / "bentoml"),
            "BENTOML_DO_NOT_TRACK": "True",
            "OMP_NUM_THREADS": "1",
            **env,
        }
        if api_key:
            self.env["CXML_API_KEY"] = api_key
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def __enter__(self) -> Server:
        command = [sys.executable, "-m", "bentoml", "serve", SERVICE]
        command += ["--host", "127.0.0.1", "--port", str(self.port)]
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                command,
                cwd=self.prepared.workdir,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stopped whole, workers too
            )
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited ({self.process.returncode}):\n{self.tail()}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise TimeoutError(f"server not ready after {timeout:.0f} s:\n{self.tail()}")

    def tail(self, lines: int = 40) -> str:
        text = self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        group = os.getpgid(self.process.pid)
        os.killpg(group, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(group, signal.SIGKILL)
            self.process.wait(timeout=10)

    def rss(self) -> int:
        """Resident memory of the server and its workers, in bytes."""
        import psutil

        assert self.process is not None
        root = psutil.Process(self.process.pid)
        total = 0
        for proc in [root, *root.children(recursive=True)]:
            with suppress(psutil.Error):
                total += proc.memory_info().rss
        return total


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
    stop_at = started + seconds
    send = {**headers, "Content-Type": "application/json"}

    def client(start: int) -> None:
        turn = itertools.count(start)
        with httpx.Client(base_url=url, headers=send, timeout=30.0) as http:
            while (now := time.perf_counter()) < stop_at:
                try:
                    response = http.post(path, content=bodies[next(turn) % len(bodies)])
                    problem = None if response.status_code == 200 else response.text[:200]
                    problem = problem and f"{response.status_code}: {problem}"
                except httpx.HTTPError as exc:
                    problem = f"{type(exc).__name__}: {exc}"
                with lock:
                    if problem:
                        errors.append(problem)
                    else:
                        latencies.append((time.perf_counter() - now) * 1e3)

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


def _in_process(scorer: Any, body: dict[str, Any], repeat: int) -> dict[str, np.ndarray]:
    """Milliseconds per call, without HTTP: the service's own work on this body (parse, checks,
    tables, answer), the scoring it runs (`Scorer.score_rows`), the same for 8 such requests
    coalesced into one call (per request), and `Scorer.score` (the same numbers as a frame, as
    batch scoring and notebooks get them)."""
    from cxml.service import PredictRequest, Profile, answer, tables

    raw = json.dumps(body).encode()
    profile = Profile.of(scorer.bundle, ())
    at = pd.Timestamp(CUTOFF)
    shared = "Scorer.score_rows, 8 per call (each)"
    times: dict[str, list[float]] = {
        "Scorer.score": [],
        "Scorer.score_rows": [],
        shared: [],
        "own": [],
    }
    for _ in range(repeat):
        start = time.perf_counter()
        request = PredictRequest.model_validate_json(raw)
        profile.problems(request.customer.attributes, [])
        events, customers = tables([(request.customer, request.events)], profile)
        middle = time.perf_counter()
        rows = scorer.score_rows(events, customers, at, explain_top=None)
        end = time.perf_counter()
        answer(rows[0], at.to_pydatetime()).model_dump_json()
        times["own"].append((middle - start + time.perf_counter() - end) * 1e3)
        times["Scorer.score_rows"].append((end - middle) * 1e3)
        start = time.perf_counter()
        scorer.score(events, customers, at, explain_top=None)
        times["Scorer.score"].append((time.perf_counter() - start) * 1e3)
        eight = [(request.customer, request.events)] * 8
        events, customers = tables(eight, profile, [str(i) for i in range(8)])
        start = time.perf_counter()
        scorer.score_rows(events, customers, at, explain_top=None)
        times[shared].append((time.perf_counter() - start) * 1e3 / 8)
    return {label: np.array(ms[5:]) for label, ms in times.items()}


def run() -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # as the service does, for a fair comparison
    from cxml.data.load import load_data_dir
    from cxml.jobs.score import load_scorer
    from cxml.service import Profile

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
        with Server(prepared, api_key="bench") as server:
            load_run(server.url, server.headers, raw, 3.0, 2)  # warm-up
            for concurrency in (1, 8):
                calls_before, _ = call_sizes(server.url)
                result = load_run(server.url, server.headers, raw, 10.0, concurrency)
                calls = call_sizes(server.url)[0] - calls_before
                print(f"  concurrency {concurrency}        {result.describe()}")
                print(f"    {result.requests / max(calls, 1):.1f} requests per model call")
            ids = customers["customer_id"].astype(str).sample(64, random_state=0)
            by_id = [json.dumps({"customer_id": c, "as_of": CUTOFF}).encode() for c in ids]
            for concurrency in (1, 8):
                result = load_run(
                    server.url, server.headers, by_id, 10.0, concurrency, path="/predict_by_id"
                )
                print(f"  /predict_by_id, 64 customers in turn, concurrency {concurrency}")
                print(f"                        {result.describe()}")
            sustained = load_run(server.url, server.headers, raw, 20.0, 8, server.rss)
            growth = (sustained.rss_end - sustained.rss_mid) / 2**20
            print(
                f"  sustained 20 s at 8   {len(sustained.errors)} errors, server RSS "
                f"{sustained.rss_end / 2**20:.0f} MiB (second half {growth:+.1f} MiB)"
            )
            check_load(sustained)
        measured = _in_process(scorer, body, 205)
        measured["service's own work"] = measured.pop("own")
        for label, ms in measured.items():
            p50, p99 = np.percentile(ms, 50), np.percentile(ms, 99)
            print(f"  in-process {label:<37} p50 {p50:6.1f} ms  p99 {p99:6.1f} ms")
        print("  (targets over HTTP: p99 <= 10 ms, >= 300 req/s per worker)\n")
