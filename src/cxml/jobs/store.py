"""The MLflow tracking store, checked before MLflow is given it: MLflow retries an unusable store
for minutes, hangs on a server that does not answer, and makes a new empty database at a
mistyped path. Here each of those ends at once in one `StoreError` (or a `ValueError` for a path
the user can fix), saying what to do. No mlflow import: this runs before it is needed."""

from __future__ import annotations

import os
from contextlib import closing


class StoreError(RuntimeError):
    """The tracking store cannot be used (unreachable, locked, not a database)."""


def tracking_uri() -> str:
    """MLFLOW_TRACKING_URI if set, else an embedded sqlite store in cwd, so no server is needed."""
    default = f"sqlite:///{os.path.abspath('mlflow.db')}"
    return os.environ.get("MLFLOW_TRACKING_URI", "").strip() or default


STORE_WAIT_SECONDS = 5  # how long a store may take to answer the first check
_REACHED: set[str] = set()  # stores this process has checked and found usable


def check_store(uri: str) -> None:
    """Fail at once, saying what to do, where MLflow would retry for minutes, hang, or make a
    new empty database: a SQLite file in a folder that does not exist (a mistyped path), a file
    that is not a database, a database locked by another process, a database server or an HTTP
    tracking server that does not answer. A store checked once is not checked again."""
    if uri in _REACHED:
        return
    scheme = uri.split(":", 1)[0].lower()
    if scheme == "sqlite":
        _check_sqlite(uri)
    elif scheme in ("http", "https"):
        _check_http(uri)
    elif "://" in uri and scheme not in ("file", "databricks"):
        _check_database(uri)
    _REACHED.add(uri)


def shown_uri(uri: str | None = None) -> str:
    """The tracking URI (by default the one in use) without its password, for messages."""
    uri = tracking_uri() if uri is None else uri
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(uri).render_as_string(hide_password=True)
    except ArgumentError:
        return uri.split("@")[-1]


def _check_sqlite(uri: str) -> None:
    import sqlite3
    from pathlib import Path

    name = uri.split(":///", 1)[-1]
    if not name or name == ":memory:":
        return
    path = Path(name)
    if not path.parent.is_dir():
        raise ValueError(
            f"MLFLOW_TRACKING_URI {uri}: the folder {path.parent} does not exist; fix the path "
            "(sqlite:////abs/path/mlflow.db or sqlite:///relative.db) or create the folder"
        )
    if path.is_dir():
        raise ValueError(f"MLFLOW_TRACKING_URI {uri}: {path} is a folder, not a database file")
    if not path.exists():
        if not os.access(path.parent, os.W_OK):
            raise ValueError(f"MLFLOW_TRACKING_URI {uri}: cannot create {path}: no write access")
        return
    try:
        with closing(sqlite3.connect(path, timeout=STORE_WAIT_SECONDS)) as db:
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()
            db.execute("BEGIN IMMEDIATE")  # a writer elsewhere holds the lock: say so now
            db.rollback()
    except sqlite3.DatabaseError as exc:
        if "locked" in str(exc):
            why = "the SQLite store is locked by another process (a training or scoring still"
            raise StoreError(f"{why} running?): wait for it, or use a database server") from None
        raise StoreError(f"{path} cannot be used as an SQLite store: {exc}") from None


def _check_http(uri: str) -> None:
    import requests

    try:
        requests.get(uri.rstrip("/") + "/health", timeout=STORE_WAIT_SECONDS)
    except requests.RequestException as exc:
        why = f"the tracking server does not answer: {type(exc).__name__}"
        raise StoreError(f"{why}; is it running, and is the address right?") from None


def _check_database(uri: str) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import SQLAlchemyError

    timeout = {"connect_timeout": STORE_WAIT_SECONDS}
    scheme = uri.split(":", 1)[0].lower()
    args = timeout if scheme.startswith(("postgres", "mysql")) else {}
    try:
        engine = create_engine(uri, connect_args=args)
    except (SQLAlchemyError, ImportError) as exc:
        raise StoreError(f"not a usable database URL: {_first_line(exc)}") from None
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        raise StoreError(f"the database does not answer: {_first_line(exc)}") from None
    finally:
        engine.dispose()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
