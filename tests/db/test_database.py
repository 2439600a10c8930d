"""The scored list in a real database, SQLite and PostgreSQL alike: it round-trips exactly, a run
is replaced whole in one transaction (even when its writer is killed mid-way), other runs are
untouched, no personal data reaches a table, and a bad URL is one clear error.

Normalisation before comparing (`as_read`): timestamps in UTC to the microsecond, which is what
both databases hold. Everything else must come back as it went in: floats bit for bit, empty
strings as empty strings, missing text as None, missing numbers as NaN."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from cxml.cli import EXIT_BAD_INPUT, EXIT_FAILED, app
from cxml.jobs import database
from cxml.jobs import score as score_job
from cxml.jobs.database import DatabaseError, read_run, read_runs, run_key, write_run
from cxml.jobs.score import run_score
from tests.db.conftest import CUTOFF, Backend

REPO = Path(__file__).resolve().parents[2]
DEMO = str(REPO / "pipelines" / "demo.yaml")
TABLES = {"cxml_runs", "cxml_scores", "cxml_decisions"}
runner = CliRunner()


def as_read(scored: pd.DataFrame) -> pd.DataFrame:
    frame = scored.copy()
    for column in ("cutoff", "scored_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True).astype("datetime64[us, UTC]")
    return frame


def assert_same(left: pd.DataFrame, right: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(left, right, check_exact=True)


def count(url: str, table: str, run_id: str | None = None) -> int:
    engine = sa.create_engine(url)
    query = f"SELECT count(*) FROM {table}" + (" WHERE run_id = :run" if run_id else "")
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text(query), {"run": run_id}).scalar_one())
    finally:
        engine.dispose()


def files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def score_args(data: Path, out: Path) -> list[str]:
    return ["score", "--config", DEMO, "--data", str(data), "--cutoff", CUTOFF, "--out", str(out)]


@dataclass(frozen=True)
class Written:
    backend: Backend
    url: str
    out: Path
    scored: pd.DataFrame  # the list the run wrote to scored.parquet
    key: str


@pytest.fixture(scope="module")
def written(backend, trained_model) -> Written:
    """`cxml score --to-db` into a new database of the backend's kind."""
    url, out = backend.new_url(), backend.folder / "out"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", trained_model.tracking_uri)
        mp.chdir(trained_model.root)
        result = runner.invoke(app, [*score_args(trained_model.data, out), "--to-db", url])
    assert result.exit_code == 0, result.output
    scored = pd.read_parquet(out / "scored.parquet")
    key = run_key(scored)
    assert f"(run {key})" in result.output
    return Written(backend, url, out, scored, key)


def test_the_scored_list_round_trips_exactly(written, trained_model):
    back = read_run(written.url, written.key)
    assert_same(back, as_read(written.scored))
    assert_same(read_run(written.url), back)  # the latest run: the only one
    assert (back["reason_1"] == "").sum() > 0  # not explained: empty strings, not None
    assert back["explained"].dtype == bool and back["churn_rank"].dtype == "int64"
    run = read_runs(written.url).iloc[0]
    assert run["run_id"] == written.key == "cxml-demo/v1/2025-06-30"
    assert run["customers"] == len(back) and run["model_ref"] == "champion"
    assert run["treated"] == (back["action"] != "none").sum() > 0
    assert run["budget"] == trained_model.config.actions.budget
    assert run["budget_spent"] == back["action_cost"].sum() <= run["budget"]
    assert run["high_risk"] == (back["churn_risk_band"] == "high").sum()


def test_awkward_values_round_trip_exactly(written):
    url = written.backend.new_url()
    odd = written.scored.head(12).copy()
    odd["churn_probability"] = [0.1 + 0.2, 1 / 3, 1e-300, 5e-324, 0.0, 1.0, 2**-52, *[0.5] * 5]
    odd["action_uplift"] = [
        1.7976931348623157e308, float("inf"), -float("inf"), -2.5, 123456789.123456789,
        -0.1, 1e308, -5e-324, *[1.0] * 4,
    ]  # fmt: skip
    odd["satisfaction_drop_probability"] = float("nan")  # missing: NULL, back as NaN
    odd["reason_1"] = [
        "", None, "Zoë’s “quote” 日本", "O'Brien; DROP TABLE cxml_runs; --", "tab\there",
        "two\nlines", " padded ", "\\", "%s", "?", "a" * 5000, "",
    ]  # fmt: skip
    odd["runner_up_action"] = None
    odd["cutoff"] = pd.Timestamp("2025-06-30 13:45:07", tz="Europe/Paris")  # kept as UTC
    odd["scored_at"] = pd.Timestamp("2025-07-01 08:00:00.123456", tz="UTC")
    key = write_run(url, odd)
    assert key == "cxml-demo/v1/2025-06-30T11:45:07Z"
    assert_same(read_run(url, key), as_read(odd))


# Run in a child process: insert the first chunk of a large replacement run, then hang inside
# the open transaction until killed.
CHILD = """
import sys, time
from pathlib import Path
import pandas as pd
from cxml.jobs import database

url, frame, marker = sys.argv[1], pd.read_parquet(sys.argv[2]), Path(sys.argv[3])
run_id = sys.argv[4]
insert = database._insert_chunk

def insert_then_hang(conn, table, rows):
    insert(conn, table, rows)
    marker.write_text(table.name)
    time.sleep(600)

database._insert_chunk = insert_then_hang
database.write_run(url, frame, run_id=run_id)
"""


def wait_for(marker: Path, child: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 120
    while not marker.exists():
        if child.poll() is not None:
            pytest.fail(f"the writer exited early: {child.stderr.read() if child.stderr else ''}")
        if time.monotonic() > deadline:
            pytest.fail("the writer never reached its first insert")
        time.sleep(0.05)


def other_sessions(url: str) -> list[str]:
    engine = sa.create_engine(url)
    query = (
        "SELECT state FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid()"
    )
    try:
        with engine.connect() as conn:
            return [str(state) for state in conn.execute(sa.text(query)).scalars()]
    finally:
        engine.dispose()


def test_a_writer_killed_mid_run_leaves_the_previous_run(written, tmp_path):
    url, previous = written.backend.new_url(), written.scored
    write_run(url, previous, run_id="weekly")
    big = pd.concat([previous] * (3 * database.CHUNK_ROWS // len(previous) + 1), ignore_index=True)
    big["customer_id"] = [f"NEW{i:07d}" for i in range(len(big))]
    big["churn_rank"] = range(1, len(big) + 1)
    big["scored_at"] = previous["scored_at"].iloc[0] + pd.Timedelta(days=7)
    big.to_parquet(tmp_path / "big.parquet")
    marker = tmp_path / "inserting"
    args = [url, str(tmp_path / "big.parquet"), str(marker), "weekly"]
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        wait_for(marker, child)
        assert marker.read_text() == "cxml_scores"  # the old rows deleted, new ones inserted
        if written.backend.name == "postgresql":
            # the transaction is open and holds them, and nobody else sees any of it
            assert "idle in transaction" in other_sessions(url)
            assert_same(read_run(url, "weekly"), as_read(previous))
    finally:
        child.kill()  # SIGKILL: no cleanup, no rollback by the writer
        child.wait(timeout=60)
        if child.stderr:
            child.stderr.close()
    assert child.returncode == -signal.SIGKILL
    assert_same(read_run(url, "weekly"), as_read(previous))
    assert count(url, "cxml_scores") == count(url, "cxml_decisions") == len(previous)
    assert count(url, "cxml_runs") == 1
    # the dead writer holds nothing: the run can be replaced for real now
    write_run(url, big, run_id="weekly")
    assert_same(read_run(url, "weekly"), as_read(big))
    assert count(url, "cxml_scores") == len(big)


def test_a_list_becomes_rows_a_chunk_at_a_time(written, monkeypatch):
    """A million-row list made into Python rows at once would be the largest thing a scoring
    run holds: each chunk of CHUNK_ROWS is made as it is inserted."""
    url, seen, make = written.backend.new_url(), [], database._rows

    def counted(frame, table, key):
        seen.append(len(frame))
        return make(frame, table, key)

    monkeypatch.setattr(database, "_rows", counted)
    monkeypatch.setattr(database, "CHUNK_ROWS", 7)
    write_run(url, written.scored, run_id="chunked")
    assert max(seen) <= 7 and sum(seen) == len(database.PER_CUSTOMER) * len(written.scored)
    assert_same(read_run(url, "chunked"), as_read(written.scored))


def test_a_rerun_replaces_its_run_and_leaves_the_others(written):
    url, first = written.backend.new_url(), written.scored
    next_week = first.assign(cutoff=first["cutoff"] + pd.Timedelta(days=7))
    a, b = write_run(url, first), write_run(url, next_week)
    assert (a, b) == ("cxml-demo/v1/2025-06-30", "cxml-demo/v1/2025-07-07")
    rerun = first.iloc[:-100].assign(churn_probability=first["churn_probability"].iloc[:-100] / 2)
    rerun["scored_at"] += pd.Timedelta(hours=1)
    assert write_run(url, rerun) == a
    assert count(url, "cxml_scores", a) == count(url, "cxml_decisions", a) == len(rerun)
    assert count(url, "cxml_scores") == len(rerun) + len(first)
    assert_same(read_run(url, a), as_read(rerun))
    assert_same(read_run(url, b), as_read(next_week))
    assert list(read_runs(url)["run_id"]) == [b, a]  # latest first: the later cutoff
    assert_same(read_run(url), as_read(next_week))


def test_a_database_written_by_an_earlier_version_gains_the_new_optional_columns(written):
    """A database whose cxml_decisions predates the expected gain's interval: the next run
    adds the columns (empty for the earlier run) instead of refusing to write."""
    url = written.backend.new_url()
    old = written.scored.drop(columns=["action_gain_low", "action_gain_high"])
    old = old.assign(cutoff=old["cutoff"] - pd.Timedelta(days=7))
    earlier = write_run(url, old)
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            for column in ("action_gain_low", "action_gain_high"):
                conn.execute(sa.text(f"ALTER TABLE cxml_decisions DROP COLUMN {column}"))
    finally:
        engine.dispose()
    key = write_run(url, written.scored)
    assert_same(read_run(url, key), as_read(written.scored))
    assert_same(read_run(url, earlier), as_read(old))  # the earlier list as it was written


def test_no_personal_data_reaches_any_table(written, trained_model):
    customers = pd.read_parquet(trained_model.data / "customers.parquet")
    pii = set(trained_model.config.features.pii_columns)
    assert {"name", "email"} <= pii & set(customers.columns)
    personal = set(customers[sorted(pii & set(customers.columns))].to_numpy().ravel())
    engine = sa.create_engine(written.url)
    try:
        tables = sa.MetaData()
        tables.reflect(engine)
        assert set(tables.tables) == TABLES
        with engine.connect() as conn:
            for table in tables.sorted_tables:
                assert not pii & set(table.c.keys()), table.name
                texts = {
                    v for row in conn.execute(sa.select(table)) for v in row if isinstance(v, str)
                }
                assert texts and not texts & personal, table.name
                assert not any("@" in text for text in texts), table.name  # no e-mail inside
    finally:
        engine.dispose()


def test_the_documented_query_reads_the_latest_list(written):
    page = (REPO / "docs" / "database.md").read_text(encoding="utf-8")
    sql = re.search(r"```sql\n(.*?)```", page, re.S)
    assert sql is not None
    engine = sa.create_engine(written.url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text(sql.group(1))).mappings().all()
    finally:
        engine.dispose()
    latest = read_run(written.url)
    assert [row["customer_id"] for row in rows] == list(latest["customer_id"])
    assert [row["action"] for row in rows] == list(latest["action"])


@contextmanager
def refusing_decisions(url: str, backend: str):
    """A trigger through which the database itself refuses the decisions' INSERT."""
    if backend == "sqlite":
        create = [
            "CREATE TRIGGER cxml_refuse BEFORE INSERT ON cxml_decisions "
            "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
        ]
        drop = ["DROP TRIGGER cxml_refuse"]
    else:
        create = [
            "CREATE FUNCTION cxml_refuse() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$",
            "CREATE TRIGGER cxml_refuse BEFORE INSERT ON cxml_decisions "
            "FOR EACH STATEMENT EXECUTE FUNCTION cxml_refuse()",
        ]
        drop = ["DROP TRIGGER cxml_refuse ON cxml_decisions", "DROP FUNCTION cxml_refuse()"]
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            for statement in create:
                conn.execute(sa.text(statement))
        yield
    finally:
        with engine.begin() as conn:
            for statement in drop:
                conn.execute(sa.text(statement))
        engine.dispose()


def test_a_failed_database_write_leaves_the_files_and_the_run(written, tracked):
    files_before, run_before = files(written.out), read_run(written.url)
    refused = pytest.raises(DatabaseError, match="refused by the test")
    with refusing_decisions(written.url, written.backend.name), refused:
        run_score(tracked.config, CUTOFF, written.out, to_db=written.url)
    assert files(written.out) == files_before
    assert_same(read_run(written.url), run_before)
    assert count(written.url, "cxml_scores") == len(run_before)


def test_a_failed_file_write_leaves_the_database(written, tracked, monkeypatch):
    files_before, run_before = files(written.out), read_run(written.url)

    def full_disk(frame: pd.DataFrame, path: Path) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(score_job, "save_csv", full_disk)
    with pytest.raises(OSError, match="No space left"):
        run_score(tracked.config, CUTOFF, written.out, to_db=written.url)
    assert files(written.out) == files_before
    assert_same(read_run(written.url), run_before)
    assert count(written.url, "cxml_scores") == len(run_before)


def test_scoring_again_replaces_the_run(written, tracked, tmp_path):
    url = written.backend.new_url()
    write_run(url, written.scored)  # as an earlier scoring with this model at this cutoff
    again, _ = run_score(tracked.config, CUTOFF, tmp_path / "out", to_db=url)
    assert_same(read_run(url), as_read(again))
    assert count(url, "cxml_scores") == count(url, "cxml_runs") * len(again) == len(again)
    assert read_runs(url)["scored_at"].iloc[0] > written.scored["scored_at"].iloc[0]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nobody listens once it is closed


@pytest.mark.parametrize(
    ("url", "code", "says"),
    [
        ("not a url", EXIT_BAD_INPUT, "not a database URL; write one e.g. sqlite:///"),
        ("nosuchdb://host/x", EXIT_BAD_INPUT, "unknown kind of database 'nosuchdb'"),
        ("mysql://cxml:s3cret@127.0.0.1/x", EXIT_BAD_INPUT, "driver is not installed"),
        ("postgresql+psycopg://cxml:s3cret@127.0.0.1:{port}/x", EXIT_FAILED, "Connection refused"),
    ],
)
def test_a_bad_database_url_is_one_clear_error(trained_model, tmp_path, url, code, says):
    out = tmp_path / "out"
    out.mkdir()
    (out / "scored.csv").write_text("the previous run's list\n")
    url = url.format(port=closed_port())
    result = runner.invoke(app, [*score_args(trained_model.data, out), "--to-db", url])
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and says in errors[0], result.output
    assert "s3cret" not in result.output
    if "s3cret" in url:
        assert "cxml:***@127.0.0.1" in errors[0]
    assert files(out) == {"scored.csv": b"the previous run's list\n"}


def test_to_db_needs_the_local_engine(trained_model, tmp_path):
    args = [*score_args(trained_model.data, tmp_path), "--engine", "spark"]
    result = runner.invoke(app, [*args, "--to-db", f"sqlite:///{tmp_path}/x.db"])
    assert (
        result.exit_code == EXIT_BAD_INPUT and "--to-db works with --engine local" in result.output
    )
