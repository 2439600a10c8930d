"""`cxml import`: bring a real source into the data contract."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cxml.cli.errors import _fail

import_app = typer.Typer(help="Bring a real source into the data contract.", no_args_is_help=True)


def _import(kind: str, source: Path, out: Path, **kwargs: object) -> None:
    from cxml.data import event_logs, importers, sources
    from cxml.jobs.ingest import run_import

    try:
        if kind == "transactions":
            result = event_logs.import_transactions(source, **kwargs)  # type: ignore[arg-type]
        else:
            result = importers.IMPORTERS[kind](source)
    except sources.SourceError as exc:
        _fail(str(exc))
        return
    if result.tables["customers"].empty:  # nothing to import: say why rather than write nothing
        if len(result.quarantine) == 0:
            _fail(f"{source.name}: no row to import (a header only); export the rows too")
        run_import({}, result.quarantine, out)
        _fail(
            f"{source.name}: no row could be imported; each row's reason is in "
            f"{out / 'quarantine'}: fix them at the source"
        )
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
