"""A private, throwaway PostgreSQL server for the database tests, and one small trained model.

The server is a fresh cluster (`initdb`) in a temporary folder, listening on a free loopback port
and a socket in that folder, stopped and removed at the end of the session. PostgreSQL refuses to
run as root, so as root the cluster belongs to the `postgres` OS user (Debian's package creates
it). Without the binaries, that user or psycopg, the PostgreSQL tests skip saying why; the SQLite
ones still run.
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cxml.config import PipelineConfig
from tests.model.test_scoring import small_config

BACKENDS = ["sqlite", "postgresql"]
CUTOFF = "2025-06-30"
PG_USER = "cxml"


@dataclass(frozen=True)
class Postgres:
    port: int

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{PG_USER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.url("postgres").replace("+psycopg", ""), autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}"')
            c.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def _bin_dir() -> Path | None:
    """Where initdb and pg_ctl live: on PATH, else the newest /usr/lib/postgresql/*/bin."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(os.path.realpath(found)).parent
    versions = glob.glob("/usr/lib/postgresql/*/bin/initdb")
    versions.sort(key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    return Path(versions[-1]).parent if versions else None


def _as_owner(root: Path) -> tuple[list[str], str | None]:
    """The command prefix to run the server's tools with, and why it cannot run (or None).
    As root: the `postgres` user, who is given the folder."""
    if os.geteuid() != 0:
        return [], None
    try:
        import pwd

        owner = pwd.getpwnam("postgres")
    except KeyError:
        return [], "running as root and there is no 'postgres' OS user to run the server as"
    os.chown(root, owner.pw_uid, owner.pw_gid)
    if shutil.which("runuser"):
        return ["runuser", "-u", "postgres", "--"], None
    return ["su", "postgres", "-s", "/bin/sh", "-c"], None  # one quoted command: see _run


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("psycopg is not installed: make install")
    bin_dir = _bin_dir()
    if bin_dir is None:
        pytest.skip("PostgreSQL is not installed (no initdb on PATH or in /usr/lib/postgresql)")
    # not under pytest's own tmp folder: the postgres user could not reach into root's
    root = Path(tempfile.mkdtemp(prefix="cxml-pg-"))
    prefix, problem = _as_owner(root)
    if problem:
        shutil.rmtree(root)
        pytest.skip(f"PostgreSQL cannot run here: {problem}")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        command = [str(bin_dir / args[0]), *args[1:]]
        if prefix and prefix[0] == "su":
            import shlex

            command = [*prefix, shlex.join(command)]
        else:
            command = [*prefix, *command]
        return subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=120)

    data, port = root / "data", _free_port()
    server = f"-p {port} -k {root} -c listen_addresses=127.0.0.1"
    steps = [
        ("initdb", "-D", str(data), "-U", PG_USER, "-A", "trust", "-E", "UTF8", "--no-locale"),
        ("pg_ctl", "-D", str(data), "-l", str(root / "log"), "-w", "-o", server, "start"),
    ]
    for step in steps:
        done = run(*step)
        if done.returncode != 0:
            output = (done.stderr or done.stdout).strip().splitlines() or ["no output"]
            shutil.rmtree(root, ignore_errors=True)
            pytest.skip(f"PostgreSQL cannot start here: {step[0]} failed: {output[-1]}")
    try:
        yield Postgres(port)
    finally:
        run("pg_ctl", "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


_databases = itertools.count()


@dataclass(frozen=True)
class Backend:
    """One kind of database; `new_url()` makes an empty database of that kind."""

    name: str
    folder: Path
    server: Postgres | None = None

    def new_url(self) -> str:
        number = next(_databases)
        if self.server is None:
            return f"sqlite:///{self.folder}/cxml-{number}.db"
        return self.server.create_database(f"cxml_test_{number}")


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request, tmp_path_factory) -> Backend:
    folder = tmp_path_factory.mktemp(request.param)
    if request.param == "sqlite":
        return Backend("sqlite", folder)
    return Backend("postgresql", folder, request.getfixturevalue("postgres"))


@dataclass(frozen=True)
class Trained:
    root: Path
    data: Path
    config: PipelineConfig
    tracking_uri: str
    trained: object  # what jobs.train.train returned: registered again by the MLflow test


@pytest.fixture(scope="session")
def trained_model(tmp_path_factory) -> Iterator[Trained]:
    """2,000 simulated customers and a small model registered as champion in a tmp MLflow."""
    from cxml.jobs.ingest import run_simulate
    from cxml.jobs.train import record, train

    root = tmp_path_factory.mktemp("db-model")
    data = root / "data"
    run_simulate(data, customers=2000, seed=23)
    config = small_config(data)
    uri = f"sqlite:///{root}/mlflow.db"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        mp.chdir(root)
        trained = train(config)
        record(trained, config)
    yield Trained(root, data, config, uri, trained)


@pytest.fixture
def tracked(trained_model, monkeypatch) -> Trained:
    """The trained model's MLflow store as the current one."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", trained_model.tracking_uri)
    monkeypatch.chdir(trained_model.root)
    return trained_model
