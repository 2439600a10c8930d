"""The scored list in a database (`cxml score --to-db URL`), for a CRM or a dashboard to read.

Three tables keyed by run and customer (SQLAlchemy Core, any database it speaks: SQLite embedded,
PostgreSQL for a shared server): `cxml_runs` (one row per run: model, cutoff, when, totals),
`cxml_scores` (risk, rank and reasons per customer) and `cxml_decisions` (the recommended action
per customer with its gain, cost, reason and runner-up). Only the columns declared here are
written, so nothing else of a data dir (personal data above all) can reach a table.

A run is replaced whole in one transaction: its old rows are deleted and the new ones inserted,
then committed together, so readers see the previous run or the new one, never a mix, and a
writer that dies mid-way leaves the previous run as it was. Other runs are not touched.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

RUN_COLUMNS = ("cutoff", "model_name", "model_version", "scored_at")  # one value per run
#: Rows per INSERT, made as Python values a chunk at a time: bulk, with memory bounded for big
#: lists (a million rows as dicts at once would be the largest thing a scoring run holds).
CHUNK_ROWS = 10_000
URL_EXAMPLES = "e.g. sqlite:///demo/cxml.db or postgresql+psycopg://user:password@host:5432/db"

_KEY = sa.String(255)
_TIME = sa.DateTime(timezone=True)
metadata = sa.MetaData()

runs = sa.Table(
    "cxml_runs",
    metadata,
    sa.Column("run_id", _KEY, primary_key=True),
    sa.Column("model_name", _KEY, nullable=False),
    sa.Column("model_version", _KEY, nullable=False),
    sa.Column("model_ref", _KEY),  # the alias or version asked for, e.g. champion
    sa.Column("cutoff", _TIME, nullable=False),
    sa.Column("scored_at", _TIME, nullable=False),
    sa.Column("written_at", _TIME, nullable=False),
    sa.Column("customers", sa.BigInteger, nullable=False),
    sa.Column("high_risk", sa.BigInteger, nullable=False),
    sa.Column("expected_churners", sa.Double),
    sa.Column("treated", sa.BigInteger),  # the action columns are absent without a catalog
    sa.Column("budget", sa.Double),
    sa.Column("budget_spent", sa.Double),
    sa.Column("expected_gain", sa.Double),
    sa.Column("list_columns", sa.Text, nullable=False),  # the list's columns, in order
)


def _per_customer(name: str, *columns: sa.Column[Any]) -> sa.Table:
    return sa.Table(
        name,
        metadata,
        sa.Column("run_id", _KEY, sa.ForeignKey(runs.c.run_id), primary_key=True),
        sa.Column("customer_id", _KEY, primary_key=True),
        *columns,
    )


scores = _per_customer(
    "cxml_scores",
    sa.Column("churn_rank", sa.BigInteger, nullable=False),
    sa.Column("churn_probability", sa.Double, nullable=False),
    sa.Column("churn_risk_band", _KEY, nullable=False),
    sa.Column("satisfaction_drop_probability", sa.Double),
    *(sa.Column(f"reason_{i}", sa.Text) for i in (1, 2, 3)),
    *(sa.Column(f"reason_family_{i}", _KEY) for i in (1, 2, 3)),
    sa.Column("explained", sa.Boolean, nullable=False),
    # when: from the time-to-churn model, where the run learned one (docs/time_to_churn.md)
    *(sa.Column(f"survival_{days}d", sa.Double) for days in (30, 90, 180, 365)),
    sa.Column("expected_tenure_days", sa.Double),
    sa.Column("lifetime_value", sa.Double),
)
sa.Index("ix_cxml_scores_rank", scores.c.run_id, scores.c.churn_rank)
decisions = _per_customer(
    "cxml_decisions",
    sa.Column("action", _KEY, nullable=False),
    sa.Column("action_expected_gain", sa.Double),
    # its 90% interval, where training calibrated the effects (docs/decisions.md)
    sa.Column("action_gain_low", sa.Double),
    sa.Column("action_gain_high", sa.Double),
    sa.Column("action_cost", sa.Double),
    sa.Column("action_uplift", sa.Double),
    sa.Column("action_reason", sa.Text),
    sa.Column("runner_up_action", _KEY),
    sa.Column("customer_value", sa.Double),
    # how the action was decided (policy, control, explore), its propensity and the decision's
    # id: what `cxml outcomes` joins realised outcomes on
    sa.Column("action_decision", _KEY),
    sa.Column("policy_action", _KEY),
    sa.Column("action_propensity", sa.Double),
    sa.Column("decision_id", _KEY),
)
PER_CUSTOMER = (scores, decisions)


class DatabaseError(Exception):
    """The database failed: unreachable, refused, or its tables are not cxml's."""


class DatabaseURLError(DatabaseError, ValueError):
    """The URL itself is wrong (unreadable, unknown kind, driver not installed): fix it."""


def safe_url(url: str) -> str:
    """The URL to show in messages: its password, if any, as ***."""
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "<a URL that is not a database URL>"  # it might hold a password


def run_key(scored: pd.DataFrame, run_id: str | None = None) -> str:
    """What identifies a run: `run_id` when given, otherwise model name, version and cutoff
    (`cxml-demo/v3/2025-06-30`), so scoring again with the same model at the same cutoff
    replaces that run and a new model or cutoff makes a new one."""
    if run_id is None:
        first = scored.iloc[0]
        cutoff = pd.Timestamp(first["cutoff"]).tz_convert("UTC")
        when = cutoff.strftime("%Y-%m-%d" if cutoff == cutoff.normalize() else "%Y-%m-%dT%H:%M:%SZ")
        run_id = f"{first['model_name']}/v{first['model_version']}/{when}"
    if not 0 < len(run_id) <= 255:
        raise ValueError(f"run id {run_id!r}: use 1 to 255 characters")
    return run_id


def check(url: str) -> None:
    """Connect, and create the tables if missing: a bad URL fails before a run does any work."""
    with _database(url):
        pass


@contextmanager
def replacing_run(
    url: str,
    scored: pd.DataFrame,
    run_id: str | None = None,
    model_ref: str | None = None,
    budget: float | None = None,
) -> Iterator[str]:
    """Replace the run's rows by the list `scored` in one transaction that commits when the
    `with` block ends without error (`cxml score` writes its files inside it, so a failed file
    write leaves the database as it was). Yields the run key (`run_key`)."""
    _check_list(scored)
    key = run_key(scored, run_id)
    run_row = _run_row(scored, key, model_ref, budget)
    with _database(url) as engine, engine.begin() as conn:
        for table in (*PER_CUSTOMER, runs):
            conn.execute(table.delete().where(table.c.run_id == key))
        conn.execute(runs.insert(), [run_row])
        for table in PER_CUSTOMER:
            for start in range(0, len(scored), CHUNK_ROWS):  # a chunk's rows made at a time
                rows = _rows(scored.iloc[start : start + CHUNK_ROWS], table, key)
                if rows:
                    _insert_chunk(conn, table, rows)
        yield key


def write_run(url: str, scored: pd.DataFrame, run_id: str | None = None, **meta: Any) -> str:
    """`replacing_run` with nothing else to do before the commit."""
    with replacing_run(url, scored, run_id, **meta) as key:
        return key


def read_runs(url: str) -> pd.DataFrame:
    """The runs table, latest first: greatest cutoff, then most recently written."""
    with _database(url, create=False) as engine, engine.connect() as conn:
        query = sa.select(runs).order_by(runs.c.cutoff.desc(), runs.c.written_at.desc())
        found = conn.execute(query).mappings().all()
    frame = pd.DataFrame([dict(row) for row in found], columns=list(runs.c.keys()))
    for column in ("cutoff", "scored_at", "written_at"):
        frame[column] = _utc(frame[column])
    return frame


def read_run(url: str, run_id: str | None = None) -> pd.DataFrame:
    """A run's scored list as `cxml score` made it (columns in order, riskiest first), the
    latest run (see `read_runs`) when `run_id` is None. Timestamps come back in UTC to the
    microsecond, missing numbers as NaN and missing text as None. One statement, so the list
    is one run's even while that run is being replaced."""
    latest = sa.select(runs.c.run_id).order_by(runs.c.cutoff.desc(), runs.c.written_at.desc())
    wanted = latest.limit(1).scalar_subquery() if run_id is None else sa.literal(run_id)
    fields = [c for c in scores.c if c.name != "run_id"]
    fields += [c for c in decisions.c if c.name not in ("run_id", "customer_id")]
    fields += [runs.c[name] for name in (*RUN_COLUMNS, "list_columns")]
    same = [decisions.c[k] == scores.c[k] for k in ("run_id", "customer_id")]
    query = (
        sa.select(*fields)
        .select_from(scores.join(runs).outerjoin(decisions, sa.and_(*same)))
        .where(scores.c.run_id == wanted)
        .order_by(scores.c.churn_rank, scores.c.customer_id)
    )
    with _database(url, create=False) as engine, engine.connect() as conn:
        found = conn.execute(query).all()
    if not found:
        which = "no run" if run_id is None else f"no run {run_id!r}"
        raise ValueError(f"database {safe_url(url)}: {which}; write one with cxml score --to-db")
    frame = pd.DataFrame.from_records(found, columns=[c.name for c in fields])
    for column in fields:
        frame[column.name] = _from_db(frame[column.name], column)
    return frame[frame["list_columns"].iloc[0].split(",")]


def forget(url: str, customer_ids: Iterable[str]) -> dict[str, int]:
    """Delete these customers' rows from every run's scores and decisions, in one transaction;
    returns the rows deleted per table. Runs keep their totals (counts and sums, no one in
    them)."""
    ids = sorted({str(c) for c in customer_ids})
    deleted = {}
    with (
        _database(url, create=False) as engine,
        _failures(url, safe_url(url)),
        engine.begin() as conn,
    ):
        for table in PER_CUSTOMER:
            done = conn.execute(table.delete().where(table.c.customer_id.in_(ids)))
            deleted[table.name] = int(done.rowcount or 0)
    return deleted


def _check_list(scored: pd.DataFrame) -> None:
    """`scored` must be one run's list, of known columns, each customer once."""
    known = set(RUN_COLUMNS) | {c.name for t in PER_CUSTOMER for c in t.c if c.name != "run_id"}
    unknown = [c for c in scored.columns if c not in known]
    if unknown:  # refused, not dropped: a new list column needs a place in the tables first
        raise ValueError(f"the scored list has column(s) the database tables lack: {unknown}")
    required = [c.name for c in scores.c if not c.nullable and c.name != "run_id"]
    missing = [c for c in (*RUN_COLUMNS, *required) if c not in scored.columns]
    if missing:
        raise ValueError(f"the scored list lacks column(s) {missing}")
    if scored.empty:
        raise ValueError("the scored list is empty: there is no run to write")
    several = [c for c in RUN_COLUMNS if scored[c].nunique(dropna=False) > 1]
    if several:
        raise ValueError(f"the scored list mixes runs: several values of {several}")
    if scored["customer_id"].duplicated().any():
        raise ValueError("the scored list has a customer twice: one row per customer")


def _run_row(
    scored: pd.DataFrame, key: str, model_ref: str | None, budget: float | None
) -> dict[str, Any]:
    first = scored.iloc[0]
    acted = "action" in scored.columns
    spent, gain = (_total(scored, c) for c in ("action_cost", "action_expected_gain"))
    return {
        "run_id": key,
        "model_name": str(first["model_name"]),
        "model_version": str(first["model_version"]),
        "model_ref": model_ref,
        "cutoff": _datetime(first["cutoff"]),
        "scored_at": _datetime(first["scored_at"]),
        "written_at": _datetime(pd.Timestamp.now(tz="UTC")),
        "customers": len(scored),
        "high_risk": int((scored["churn_risk_band"] == "high").sum()),
        "expected_churners": _total(scored, "churn_probability"),
        "treated": int((scored["action"] != "none").sum()) if acted else None,
        "budget": budget,
        "budget_spent": spent,
        "expected_gain": gain,
        "list_columns": ",".join(scored.columns),
    }


def _total(scored: pd.DataFrame, column: str) -> float | None:
    """The column's sum; None (NULL) when absent or not a finite number."""
    if column not in scored:
        return None
    total = float(scored[column].sum())
    return total if np.isfinite(total) else None


def _rows(scored: pd.DataFrame, table: sa.Table, key: str) -> list[dict[str, Any]]:
    """The table's rows of `scored` as plain Python values (missing: None, i.e. NULL); none
    for a table whose columns the list does not have (decisions without an action catalog)."""
    names = [c.name for c in table.c if c.name != "run_id" and c.name in scored.columns]
    if names == ["customer_id"]:
        return []
    values = [_to_db(scored[name]) for name in names]
    return [
        {"run_id": key, **dict(zip(names, row, strict=True))} for row in zip(*values, strict=True)
    ]


def _insert_chunk(conn: sa.Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """One bulk INSERT (executemany) of up to CHUNK_ROWS rows."""
    conn.execute(table.insert(), rows)


def _to_db(series: pd.Series) -> list[Any]:
    """Python scalars (numpy's are not adapted by every driver), NaN/NA/None as None."""
    values = series.to_numpy(dtype=object)
    values[series.isna().to_numpy()] = None
    return values.tolist()


def _from_db(series: pd.Series, column: sa.Column[Any]) -> pd.Series:
    if isinstance(column.type, sa.DateTime):
        return _utc(series)
    if isinstance(column.type, sa.Float):
        return series.astype("float64")
    if isinstance(column.type, sa.Integer):
        return series.astype("int64")
    if isinstance(column.type, sa.Boolean):
        return series.astype(bool)
    return series.astype(object).where(series.notna(), None)


def _datetime(value: object) -> Any:
    return pd.Timestamp(value).tz_convert("UTC").to_pydatetime()


def _utc(series: pd.Series) -> pd.Series:
    """Timestamps in UTC to the microsecond; SQLite hands them back without a zone (written
    in UTC), PostgreSQL in the session's zone."""
    return pd.to_datetime(series, utc=True).astype("datetime64[us, UTC]")


@contextmanager
def _database(url: str, create: bool = True) -> Iterator[sa.Engine]:
    """An engine for `url` whose cxml tables exist (`create`: made if missing) with their
    columns, disposed at the end; every failure of the database is a `DatabaseError` naming
    the URL, its password hidden."""
    shown = safe_url(url)
    engine = _engine(url, shown)
    try:
        with _failures(url, shown):
            if create:
                metadata.create_all(engine)
            inspector = sa.inspect(engine)
            for table in metadata.sorted_tables:
                if not inspector.has_table(table.name):
                    raise DatabaseError(
                        f"database {shown} has no table {table.name}: write a run into it "
                        "first (cxml score --to-db)"
                    )
                have = {c["name"] for c in inspector.get_columns(table.name)}
                lacking = [c.name for c in table.c if c.name not in have]
                if create and lacking and all(table.c[n].nullable for n in lacking):
                    _add_columns(engine, table, lacking)  # a newer cxml's optional columns
                    lacking = []
                if lacking:
                    raise DatabaseError(
                        f"database {shown}: table {table.name} lacks column(s) "
                        f"{', '.join(lacking)} (made by another cxml version?): write to a new "
                        "database, or add the columns"
                    )
            yield engine
    finally:
        engine.dispose()


def _add_columns(engine: sa.Engine, table: sa.Table, names: list[str]) -> None:
    """Add `table`'s optional columns `names` to the database's copy of it (empty for the
    runs written before): tables written by an earlier cxml keep working."""
    preparer = engine.dialect.identifier_preparer
    with engine.begin() as conn:
        for name in names:
            kind = table.c[name].type.compile(dialect=engine.dialect)
            conn.execute(
                sa.text(
                    f"ALTER TABLE {preparer.format_table(table)} "
                    f"ADD COLUMN {preparer.quote(name)} {kind}"
                )
            )


def _engine(url: str, shown: str) -> sa.Engine:
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError as exc:
        raise DatabaseURLError(f"{shown}: not a database URL; write one {URL_EXAMPLES}") from exc
    options: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)  # like the --out folder
    if parsed.get_backend_name() == "postgresql" and "connect_timeout" not in parsed.query:
        options["connect_args"] = {"connect_timeout": 10}  # a wrong host fails, not hangs
    try:
        return sa.create_engine(parsed, **options)
    except sa.exc.NoSuchModuleError as exc:
        raise DatabaseURLError(
            f"database {shown}: unknown kind of database {parsed.drivername!r}; write "
            + URL_EXAMPLES
        ) from exc
    except ImportError as exc:
        raise DatabaseURLError(
            f"database {shown}: its driver is not installed ({exc}); install it, or use "
            "postgresql+psycopg:// (installed) or sqlite://"
        ) from exc


@contextmanager
def _failures(url: str, shown: str) -> Iterator[None]:
    """SQLAlchemy's and the driver's errors as one line naming the database and what to do."""
    try:
        yield
    except sa.exc.SQLAlchemyError as exc:
        text = str(getattr(exc, "orig", None) or exc).strip()
        line = text.splitlines()[0] if text else type(exc).__name__
        password = sa.make_url(url).password
        if password:
            line = line.replace(str(password), "***")
        raise DatabaseError(
            f"database {shown} failed: {line}; check the URL (user, password, database), that "
            "the server is reachable, and that its user may create and write tables"
        ) from exc
