"""How every command fails: one `error:` line saying what to do, and an exit code."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import typer

EXIT_BAD_INPUT = 2  # something the user can fix: a config, a data dir, an argument, a path
EXIT_FAILED = 1  # anything else: the tracking store, or a bug
EXIT_ALERT = 3  # cxml monitor: a threshold of the config's monitor section was crossed
DEBUG_ENV = "CXML_DEBUG"  # set (to anything) to see the traceback of an unexpected failure
#: Where the tracking store's own failures come from (its client, database or HTTP layers).
STORE_MODULES = ("mlflow", "sqlalchemy", "alembic", "sqlite3", "requests", "urllib3")


def _fail(message: str, code: int = EXIT_BAD_INPUT) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@contextmanager
def _errors() -> Iterator[None]:
    """Every failure of a command as an `error:` line with what to do and a non-zero exit,
    never a traceback: exit 2 for bad input (config, data, arguments, paths), 1 otherwise.
    CXML_DEBUG=1 lets an unexpected failure's traceback through."""
    from cxml.config import ConfigError
    from cxml.data.schema import ContractError

    try:
        yield
    except (typer.Exit, typer.Abort):
        raise
    except (ConfigError, ContractError, ValueError) as exc:
        _fail(str(exc))
    except OSError as exc:
        if exc.errno is None:  # cxml's own, e.g. a data dir not found, saying what to do
            _fail(str(exc))
        # the system's: no such folder, no permission, a file in a folder's place, a full disk
        where = f"{exc.filename}: " if exc.filename else ""
        _fail(f"{where}{exc.strerror}: check the path, its permissions and the free space")
    except Exception as exc:
        from cxml.jobs.database import DatabaseError
        from cxml.jobs.store import StoreError, shown_uri

        if isinstance(exc, DatabaseError):  # the --to-db database's, already saying what to do
            _fail(str(exc), EXIT_FAILED)
        if os.environ.get(DEBUG_ENV):
            raise
        if isinstance(exc, StoreError) or type(exc).__module__.split(".")[0] in STORE_MODULES:
            _fail(
                f"the MLflow store {shown_uri()} failed: {_first_line(exc)}; check "
                "MLFLOW_TRACKING_URI and that the store is reachable and writable",
                EXIT_FAILED,
            )
        _fail(
            f"unexpected {type(exc).__name__}: {_first_line(exc)}; this is a bug in cxml: "
            f"rerun with {DEBUG_ENV}=1 for the traceback and report it",
            EXIT_FAILED,
        )
