"""The `cxml` command line. Imports stay inside commands so `cxml --help` starts fast; how a
failure is told (`errors.py`), the `cxml import` commands (`imports.py`) and those about
registered models (`registry.py`) live beside it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cxml.cli.errors import EXIT_ALERT, EXIT_BAD_INPUT, EXIT_FAILED, _errors, _fail
from cxml.cli.imports import import_app
from cxml.cli.registry import export, models, promote, rollback, serve

if TYPE_CHECKING:
    from cxml.config import PipelineConfig, ReadLimits

app = typer.Typer(
    help="cxml: churn, satisfaction-drop and next-best-action for CX teams.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(import_app, name="import")
__all__ = ["EXIT_ALERT", "EXIT_BAD_INPUT", "EXIT_FAILED", "app", "main"]


@app.command()
def simulate(
    out: Annotated[Path, typer.Option(help="Folder to write the data dir into")],
    customers: Annotated[int, typer.Option(min=100, help="Number of customers")] = 20_000,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same bytes)")] = 0,
    from_dir: Annotated[
        Path | None,
        typer.Option("--continue", help="A simulated data dir whose world to continue"),
    ] = None,
    decisions: Annotated[
        Path | None,
        typer.Option(help="With --continue: the decisions.parquet of a score at its cutoff"),
    ] = None,
    weeks: Annotated[
        int, typer.Option(help="With --continue: weeks to go on past the cutoff (multiple of 4)")
    ] = 16,
) -> None:
    """Simulate customer journeys with known truth (customers, events, actions, truth); with
    --continue, go on in an earlier simulated world, acting out a run's decisions at its cutoff."""
    from cxml.jobs.ingest import continue_simulation, run_simulate

    if (from_dir is None) != (decisions is None):
        _fail("--continue and --decisions go together: the world to continue and what was decided")
    with _errors():
        if from_dir is not None and decisions is not None:
            meta = continue_simulation(from_dir, decisions, weeks, out)
        else:
            meta = run_simulate(out, customers, seed)
    typer.echo(f"simulated {meta['customers']:,} customers, {meta['events']:,} events -> {out}")
    typer.echo(
        f"truth: {meta['truth_rows']:,} customers active at the evaluation cutoff "
        f"{meta['evaluation_cutoff']} (horizon {meta['horizon_days']} days)"
    )


CONFIG_HELP = "Pipeline config whose PII columns, read limits (and feature settings) to use"


@app.command()
def validate(
    data_dir: Annotated[
        Path | None, typer.Argument(help="Data dir holding customers.*, events.*, ...")
    ] = None,
    quarantine_dir: Annotated[
        Path | None, typer.Option(help="Where faulty rows go (default DATA_DIR/quarantine)")
    ] = None,
    config: Annotated[Path | None, typer.Option(help=CONFIG_HELP)] = None,
) -> None:
    """Check a data dir against the contract; exit 2 with a report if anything is wrong."""
    from cxml.jobs.ingest import describe_summary
    from cxml.jobs.inputs import read_data

    with _errors():
        pipeline = _optional_config(config, data_dir)
        folder = pipeline.data.dir if pipeline else data_dir  # DATA_DIR overrides the config's
        if folder is None:
            _fail("pass the data dir (cxml validate DATA_DIR) or --config")
            return
        pii, limits = _pii_and_limits(pipeline)
        loaded = read_data(folder, pii, limits, quarantine_dir or folder / "quarantine")
        if pipeline and not loaded.faults:  # the config against the data, as `cxml train` does
            from cxml.jobs.inputs import cutoffs
            from cxml.jobs.preflight import check_against_data

            check_against_data(pipeline, loaded, cutoffs(pipeline))
    for line in describe_summary(loaded):
        typer.echo(line)
    for name, result in loaded.results.items():
        if result.ignored_columns:
            typer.echo(
                f"note: {name}: column(s) {', '.join(result.ignored_columns)} are not part "
                "of the contract and are ignored"
            )
    if loaded.faults:
        typer.echo("fix the rows at the source, or proceed knowing they are left out", err=True)
        raise typer.Exit(EXIT_BAD_INPUT)
    typer.echo("valid: the data dir meets the contract")


def _optional_config(config: Path | None, data_dir: Path | str | None) -> PipelineConfig | None:
    from cxml.config import load_config

    return None if config is None else load_config(config, data_dir)


def _pii_and_limits(pipeline: PipelineConfig | None) -> tuple[tuple[str, ...], ReadLimits]:
    """The PII columns and read limits of a config, or the defaults without one."""
    from cxml.config import DEFAULT_PII_COLUMNS, ReadLimits

    if pipeline is None:
        return DEFAULT_PII_COLUMNS, ReadLimits()
    return pipeline.features.pii_columns, pipeline.data.limits


def _listed(written: list[Path], out: Path) -> list[str]:
    """The written files to print: the page's folder as one line, not its hundreds of chunks."""
    page = out / "ui"
    inside = [p for p in written if p.is_relative_to(page)]
    shown = [str(p) for p in written if not p.is_relative_to(page)]
    if inside:
        shown.append(f"{page / 'index.html'} (the team's page, {len(inside):,} files)")
    return shown


def _check_cutoff_and_engine(cutoff: str, engine: str) -> None:
    """Stop with what to write when --cutoff is not a time or --engine is unknown."""
    from cxml.data.schema import utc_timestamp

    try:
        utc_timestamp(cutoff)
    except ValueError as exc:
        _fail(f"--cutoff {cutoff!r} is not a timestamp ({exc}); use e.g. 2025-06-30")
    if engine not in ("local", "spark"):
        _fail(f"--engine must be local or spark, got {engine!r}")


TO_DB_HELP = (
    "Also write the list, decisions and run into this database (SQLAlchemy URL, e.g. "
    "sqlite:///demo/cxml.db or postgresql+psycopg://user@host/db); the run is replaced whole"
)
ENGINE_HELP = "local (pandas, one machine) or spark (the same functions per customer bucket)"
MASTER_HELP = "Spark master, e.g. local[8] or spark://host:7077 (default $SPARK_MASTER, local[2])"


@app.command()
def features(
    data_dir: Annotated[str, typer.Argument(help="Data dir holding customers.*, events.*")],
    cutoff: Annotated[str, typer.Option(help="Features use events strictly before this time")],
    out: Annotated[str, typer.Option(help="Parquet to write (spark: a folder of parts)")],
    chunk_customers: Annotated[
        int | None,
        typer.Option(min=1, help="Customers whose features are built at once (fewer: less memory)"),
    ] = None,
    engine: Annotated[str, typer.Option(help=ENGINE_HELP)] = "local",
    master: Annotated[str | None, typer.Option(help=MASTER_HELP)] = None,
    buckets: Annotated[int | None, typer.Option(min=1, help="Spark: customer buckets")] = None,
    config: Annotated[Path | None, typer.Option(help=CONFIG_HELP)] = None,
) -> None:
    """Point-in-time features at a cutoff for every customer of a data dir."""
    _check_cutoff_and_engine(cutoff, engine)
    if engine == "spark" and config is not None:
        _fail("--config is read by --engine local; Spark builds with the default settings")
    with _errors():
        if engine == "spark":
            rows, bad = _spark_features(data_dir, cutoff, out, master, buckets)
        else:
            from cxml.jobs.features import run_features

            pipeline = _optional_config(config, data_dir)
            features = run_features(Path(data_dir), cutoff, Path(out), chunk_customers, pipeline)
            rows, bad = len(features), 0  # the quarantine was reported as it was read
    typer.echo(f"{rows:,} customers' features at {cutoff} -> {out}")
    if bad:
        typer.echo(f"{bad:,} faulty row(s) quarantined with reasons -> {out}.quarantine", err=True)


def _spark_features(
    data_dir: str, cutoff: str, out: str, master: str | None, buckets: int | None
) -> tuple[int, int]:
    from cxml.jobs.spark import run_spark_features, spark_problem

    problem = spark_problem()
    if problem:
        _fail(f"--engine spark: {problem}")
    return run_spark_features(data_dir, cutoff, out, master, buckets)


@app.command()
def train(
    config: Annotated[Path, typer.Option(help="Pipeline config, e.g. pipelines/demo.yaml")],
    data: Annotated[
        Path | None, typer.Option(help="Data dir to use instead of the config's")
    ] = None,
    metrics_out: Annotated[
        Path | None, typer.Option(help="Also write the metrics and data summary as JSON here")
    ] = None,
    track: Annotated[bool, typer.Option(help="Log and register in MLflow")] = True,
) -> None:
    """Train, backtest and register the churn and satisfaction-drop models."""
    from cxml.config import load_config
    from cxml.jobs.train import describe_training, record, train, write_metrics

    with _errors():
        pipeline = load_config(config, data)
        trained = train(pipeline)
        for line in describe_training(trained.summary, trained.metrics):
            typer.echo(line)
        if metrics_out:
            typer.echo(f"metrics -> {write_metrics(trained, metrics_out)}")
        if track:
            run = record(trained, pipeline)
            typer.echo(f"MLflow run {run.run_id}: {pipeline.tracking.model_name} v{run.version}")
            typer.echo(f"  {run.decision}")


@app.command()
def score(
    config: Annotated[Path, typer.Option(help="Pipeline config, e.g. pipelines/demo.yaml")],
    cutoff: Annotated[str, typer.Option(help="Score as of this time (features use events before)")],
    out: Annotated[Path, typer.Option(help="Folder for scored.parquet, scored.csv, report.html")],
    model_ref: Annotated[str, typer.Option(help="Alias or version to load")] = "champion",
    data: Annotated[
        Path | None, typer.Option(help="Data dir to use instead of the config's")
    ] = None,
    explain_top: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Explain the top share by risk (1 = everyone)")
    ] = 0.1,
    engine: Annotated[str, typer.Option(help=ENGINE_HELP)] = "local",
    master: Annotated[str | None, typer.Option(help=MASTER_HELP)] = None,
    buckets: Annotated[int | None, typer.Option(min=1, help="Spark: customer buckets")] = None,
    to_db: Annotated[str | None, typer.Option(help=TO_DB_HELP)] = None,
    run_id: Annotated[
        str | None, typer.Option(help="With --to-db: the run to replace (default model/vN/cutoff)")
    ] = None,
    page: Annotated[
        bool, typer.Option(help="Write the team's page, <out>/ui/index.html (docs/ui.md)")
    ] = True,
) -> None:
    """Score every active customer with the registered model: a ranked, explained list."""
    from cxml.config import load_config
    from cxml.jobs.score import run_score

    _check_cutoff_and_engine(cutoff, engine)
    if engine == "spark" and to_db is not None:
        _fail("--to-db works with --engine local; load the Spark parts into the database yourself")
    with _errors():
        pipeline = load_config(config, data)
        if engine == "spark":
            _spark_score(pipeline, cutoff, str(out), model_ref, explain_top, master, buckets)
            return
        scored, written = run_score(
            pipeline, cutoff, out, model_ref, explain_top, to_db, run_id, page
        )
    high = int((scored["churn_risk_band"] == "high").sum())
    typer.echo(
        f"scored {len(scored):,} customers at {cutoff} with {scored['model_name'].iloc[0]} "
        f"v{scored['model_version'].iloc[0]}: {high:,} high risk, expected churners "
        f"{scored['churn_probability'].sum():,.0f}"
    )
    for path in _listed(written, out):
        typer.echo(f"  -> {path}")
    if to_db is not None:
        from cxml.jobs.database import run_key, safe_url

        typer.echo(f"  -> {safe_url(to_db)} (run {run_key(scored, run_id)})")


def _spark_score(
    pipeline: PipelineConfig,
    cutoff: str,
    out: str,
    model_ref: str,
    explain_top: float,
    master: str | None,
    buckets: int | None,
) -> None:
    from cxml.jobs.spark import spark_problem
    from cxml.jobs.spark_score import run_spark_score

    problem = spark_problem()
    if problem:
        _fail(f"--engine spark: {problem}")
    done = run_spark_score(pipeline, cutoff, out, model_ref, explain_top, master, buckets)
    typer.echo(
        f"scored {done.customers:,} customers at {cutoff} on Spark: {done.high_risk:,} high "
        f"risk, expected churners {done.expected_churners:,.0f}; {done.treated:,} actions "
        f"costing {done.spent:,.0f}"
    )
    if done.quarantined:
        typer.echo(f"{done.quarantined:,} faulty row(s) quarantined with reasons", err=True)
    for path in done.written:
        typer.echo(f"  -> {path}")
    typer.echo("  (report.html comes with --engine local: it reads the whole list in one process)")


@app.command()
def monitor(
    config: Annotated[Path, typer.Option(help="Pipeline config (its monitor: thresholds)")],
    out: Annotated[Path, typer.Option(help="Folder for monitor.html and monitor.json")],
    data: Annotated[
        Path | None, typer.Option(help="Data dir to use instead of the config's")
    ] = None,
    cutoff: Annotated[
        str | None, typer.Option(help="Monitor as of this time (default: the end of the data)")
    ] = None,
    model_ref: Annotated[str, typer.Option(help="Alias or version to monitor")] = "champion",
    scored: Annotated[
        list[Path] | None,
        typer.Option(help="A `cxml score` --out folder to judge besides the registry's scorings"),
    ] = None,
) -> None:
    """Drift, expected and realised performance of the registered model; exit 3 on an alert."""
    from cxml.config import load_config
    from cxml.jobs.monitor import describe, run_monitor

    if cutoff is not None:
        _check_cutoff_and_engine(cutoff, "local")
    with _errors():
        pipeline = load_config(config, data)
        done = run_monitor(pipeline, out, cutoff, model_ref, scored or [])
    for line in describe(done):
        typer.echo(line)
    for path in done.written:
        typer.echo(f"  -> {path}")
    for alert in done.alerts:
        typer.echo(f"alert: {alert.message}", err=True)
    if done.alerts:
        raise typer.Exit(EXIT_ALERT)


@app.command()
def outcomes(
    config: Annotated[Path, typer.Option(help="Pipeline config (its labels define churn)")],
    decisions: Annotated[Path, typer.Option(help="decisions.parquet of a `cxml score` run")],
    out: Annotated[Path, typer.Option(help="Folder for the outcomes_*.csv tables")],
    data: Annotated[
        Path | None, typer.Option(help="Data dir to use instead of the config's")
    ] = None,
) -> None:
    """How a run's decisions turned out, once their outcome window has closed: churn of the
    treated vs the held-out control per action, with intervals, and the policy's value against
    no action (IPS, DR) from the logged propensities."""
    from cxml.config import load_config
    from cxml.jobs.outcomes import run_outcomes

    with _errors():
        done = run_outcomes(load_config(config, data), decisions, out)
    for line in done.lines():
        typer.echo(line)
    typer.echo(f"tables in {out}")


app.command()(promote)  # the registered-model commands (registry.py), in --help's order
app.command()(rollback)
app.command()(models)
app.command()(export)


@app.command()
def forget(
    customer_ids: Annotated[list[str], typer.Argument(help="Customer ids to erase")],
    config: Annotated[Path, typer.Option(help="Pipeline config: model, data dir")],
    scored: Annotated[
        list[Path] | None, typer.Option(help="Also a scored folder the registry does not know")
    ] = None,
    db: Annotated[str | None, typer.Option(help="The database lists went to (--to-db)")] = None,
) -> None:
    """Erase customers from what cxml wrote: scorings, lists, reports, quarantine, database."""
    from cxml.config import load_config
    from cxml.jobs.forget import NOT_TOUCHED, forget

    with _errors():
        done = forget(load_config(config), customer_ids, scored or [], db)
    typer.echo(f"forgot {len(set(customer_ids))} customer(s): {done.rows:,} row(s) removed")
    for place, rows in done.removed:
        typer.echo(f"  {rows:,} from {place}")
    typer.echo("not touched (cxml did not write them, or holds no rows of them):")
    for line in NOT_TOUCHED:
        typer.echo(f"  {line}")


app.command()(serve)


def main() -> None:
    from cxml.jobs.memory import keep_freed_memory

    keep_freed_memory()
    app()
