"""A real service to test and measure: a small simulation, a model trained on it and registered in
a temporary MLflow store (`prepare`), served by `python -m bentoml serve` on a free loopback port
(`Server`). tests/service and benchmarks/bench_service.py both use it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml

from tests.helpers import SMALL_SURVIVAL

REPO = Path(__file__).resolve().parents[2]
SERVICE = "cxml.service:CxmlService"
CUTOFF = "2025-06-30T00:00:00Z"  # the simulator's evaluation cutoff


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
    raw["model"] |= {
        "max_rounds": 150,
        "early_stopping_rounds": 20,
        "threads": 1,
        "survival_periods": SMALL_SURVIVAL,
    }
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

    def command(self) -> list[str]:
        """What runs the server (benchmarks/raw_server.py's baseline runs another)."""
        command = [sys.executable, "-m", "bentoml", "serve", SERVICE]
        return [*command, "--host", "127.0.0.1", "--port", str(self.port)]

    def __enter__(self) -> Server:
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                self.command(),
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
