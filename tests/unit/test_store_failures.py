"""The MLflow store failing for real (no mocks): each case ends in one `error:` line saying what
to do and a non-zero exit, at once rather than after minutes of retries, and a mistyped path
creates nothing."""

from __future__ import annotations

import socket
import sqlite3

import pytest
from typer.testing import CliRunner

from cxml.cli import EXIT_BAD_INPUT, EXIT_FAILED, app
from cxml.jobs import store

runner = CliRunner()


def _models(monkeypatch, uri: str):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setattr(store, "_REACHED", set())
    result = runner.invoke(app, ["models", "cxml-demo"])
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.output
    return result.exit_code, errors[0]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_mistyped_sqlite_path_is_an_error_not_a_new_database(tmp_path, monkeypatch):
    code, line = _models(monkeypatch, f"sqlite:///{tmp_path}/typo/mlflow.db")
    assert code == EXIT_BAD_INPUT
    assert f"the folder {tmp_path}/typo does not exist" in line
    assert not (tmp_path / "typo").exists()


def test_a_file_that_is_not_a_database(tmp_path, monkeypatch):
    (tmp_path / "mlflow.db").write_text("not a database")
    code, line = _models(monkeypatch, f"sqlite:///{tmp_path}/mlflow.db")
    assert code == EXIT_FAILED and "file is not a database" in line


def test_a_folder_in_place_of_the_database(tmp_path, monkeypatch):
    (tmp_path / "mlflow.db").mkdir()
    code, line = _models(monkeypatch, f"sqlite:///{tmp_path}/mlflow.db")
    assert code == EXIT_BAD_INPUT and "is a folder, not a database file" in line


def test_a_store_locked_by_another_writer(tmp_path, monkeypatch):
    path = tmp_path / "mlflow.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN EXCLUSIVE")
    monkeypatch.setattr(store, "STORE_WAIT_SECONDS", 0.2)
    try:
        code, line = _models(monkeypatch, f"sqlite:///{path}")
    finally:
        holder.rollback()
        holder.close()
    assert code == EXIT_FAILED and "locked by another process" in line


def test_a_tracking_server_that_refuses_connections(monkeypatch):
    code, line = _models(monkeypatch, f"http://127.0.0.1:{_closed_port()}")
    assert code == EXIT_FAILED and "the tracking server does not answer" in line


@pytest.mark.parametrize("scheme", ["postgresql+psycopg", "postgresql"])
def test_a_database_server_that_is_not_there_and_no_password_shown(monkeypatch, scheme):
    uri = f"{scheme}://cxml:s3cret@127.0.0.1:{_closed_port()}/mlflow"
    code, line = _models(monkeypatch, uri)
    assert code == EXIT_FAILED and "s3cret" not in line
    assert "the database does not answer" in line or "not a usable database URL" in line
