"""The `cxml` command line. Imports stay inside commands so `cxml --help` starts fast."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    help="cxml: churn, satisfaction-drop and next-best-action for CX teams.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
import_app = typer.Typer(help="Bring a real source into the data contract.", no_args_is_help=True)
app.add_typer(import_app, name="import")

EXIT_BAD_INPUT = 2


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(EXIT_BAD_INPUT)


@app.command()
def simulate(
    out: Annotated[Path, typer.Option(help="Folder to write the data dir into")],
    customers: Annotated[int, typer.Option(min=100, help="Number of customers")] = 20_000,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same bytes)")] = 0,
) -> None:
    """Simulate customer journeys with known truth (customers, events, actions, truth)."""
    from cxml.jobs.ingest import run_simulate

    meta = run_simulate(out, customers, seed)
    typer.echo(f"simulated {customers:,} customers, {meta['events']:,} events -> {out}")
    typer.echo(
        f"truth: {meta['truth_rows']:,} customers active at the evaluation cutoff "
        f"{meta['evaluation_cutoff']} (horizon {meta['horizon_days']} days)"
    )


@app.command()
def validate(
    data_dir: Annotated[Path, typer.Argument(help="Data dir holding customers.*, events.*, ...")],
    quarantine_dir: Annotated[
        Path | None, typer.Option(help="Where faulty rows go (default DATA_DIR/quarantine)")
    ] = None,
) -> None:
    """Check a data dir against the contract; exit 2 with a report if anything is wrong."""
    from cxml.data.schema import ContractError
    from cxml.jobs.ingest import describe_faults, describe_summary, run_validate

    try:
        loaded, written = run_validate(data_dir, quarantine_dir or data_dir / "quarantine")
    except ContractError as exc:
        _fail(str(exc))
        return
    for line in describe_summary(loaded):
        typer.echo(line)
    for name, result in loaded.results.items():
        if result.ignored_columns:
            typer.echo(
                f"note: {name}: column(s) {', '.join(result.ignored_columns)} are not part "
                "of the contract and are ignored"
            )
    if loaded.faults:
        typer.echo(f"\n{loaded.quarantined_rows:,} row(s) quarantined:", err=True)
        for line in describe_faults(loaded.faults):
            typer.echo(f"  {line}", err=True)
        for path in written:
            typer.echo(f"  written with a reason per row to {path}", err=True)
        typer.echo("fix the rows at the source, or proceed knowing they are left out", err=True)
        raise typer.Exit(EXIT_BAD_INPUT)
    typer.echo("valid: the data dir meets the contract")


@app.command()
def features(
    data_dir: Annotated[Path, typer.Argument(help="Data dir holding customers.*, events.*")],
    cutoff: Annotated[str, typer.Option(help="Features use events strictly before this time")],
    out: Annotated[Path, typer.Option(help="Parquet file to write, one row per customer")],
    chunk_customers: Annotated[int, typer.Option(min=1, help="Customers per chunk")] = 50_000,
) -> None:
    """Point-in-time features at a cutoff for every customer of a data dir."""
    from cxml.data.schema import ContractError
    from cxml.jobs.features import run_features

    try:
        frame = run_features(data_dir, cutoff, out, chunk_customers)
    except ContractError as exc:
        _fail(str(exc))
        return
    except ValueError as exc:
        _fail(f"--cutoff {cutoff!r} is not a timestamp ({exc}); use e.g. 2025-06-30")
        return
    typer.echo(f"{len(frame):,} customers x {frame.shape[1]} features at {cutoff} -> {out}")


def _import(kind: str, source: Path, out: Path, **kwargs: object) -> None:
    from cxml.data import importers
    from cxml.jobs.ingest import run_import

    try:
        if kind == "transactions":
            result = importers.import_transactions(source, **kwargs)  # type: ignore[arg-type]
        else:
            result = importers.IMPORTERS[kind](source)
    except importers.SourceError as exc:
        _fail(str(exc))
        return
    paths = run_import(result.tables, result.quarantine, out)
    for name, count in result.counts.items():
        typer.echo(f"{name}: {count:,}")
    typer.echo(f"wrote {', '.join(p.name for p in paths)} to {out}")
    if len(result.quarantine):
        typer.echo(
            f"{len(result.quarantine):,} source row(s) not imported; reasons in "
            f"{out / 'quarantine'}"
        )


@import_app.command("telco")
def import_telco(source: Path, out: Annotated[Path, typer.Option()]) -> None:
    """IBM Telco customer churn CSV -> customers + labels at one snapshot cutoff."""
    _import("telco", source, out)


@import_app.command("online-retail")
def import_online_retail(source: Path, out: Annotated[Path, typer.Option()]) -> None:
    """UCI Online Retail CSV(.gz) -> customers + one purchase event per invoice."""
    _import("online-retail", source, out)


@import_app.command("hillstrom")
def import_hillstrom(source: Path, out: Annotated[Path, typer.Option()]) -> None:
    """Hillstrom e-mail test CSV -> customers + randomized actions + visit/purchase events."""
    _import("hillstrom", source, out)


@import_app.command("transactions")
def import_transactions(
    source: Path,
    out: Annotated[Path, typer.Option()],
    customer_col: Annotated[str, typer.Option(help="Column holding the customer id")],
    time_col: Annotated[str, typer.Option(help="Column holding the transaction time")],
    amount_col: Annotated[str, typer.Option(help="Column holding the amount")],
    channel: Annotated[str | None, typer.Option(help="Channel to record, e.g. web")] = None,
    timezone: Annotated[str, typer.Option(help="Time zone of naive timestamps")] = "UTC",
) -> None:
    """Any transaction log CSV -> customers + purchase events."""
    _import(
        "transactions",
        source,
        out,
        customer_col=customer_col,
        time_col=time_col,
        amount_col=amount_col,
        channel=channel,
        timezone=timezone,
    )


def main() -> None:
    app()
