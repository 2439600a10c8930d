"""`cxml import`: bring a real source into the data contract."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cxml.cli.errors import _fail

if TYPE_CHECKING:
    from cxml.data.sources import ImportResult

import_app = typer.Typer(help="Bring a real source into the data contract.", no_args_is_help=True)


def _import(kind: str, source: Path, out: Path, **kwargs: object) -> None:
    from cxml.data import event_logs, importers

    if kind == "transactions":
        _run(source.name, lambda: event_logs.import_transactions(source, **kwargs), out)  # type: ignore[arg-type]
    else:
        _run(source.name, lambda: importers.IMPORTERS[kind](source), out)


def _run(what: str, read: Callable[[], ImportResult], out: Path) -> None:
    """Import `what` into the data dir `out`: tables and quarantine written together, counts
    said; a source nothing could be imported from stops with the reason."""
    from cxml.data.sources import SourceError
    from cxml.jobs.ingest import run_import

    try:
        result = read()
    except SourceError as exc:
        _fail(str(exc))
        return
    if result.tables["customers"].empty:  # nothing to import: say why rather than write nothing
        if len(result.quarantine) == 0:
            _fail(f"{what}: no row to import (a header only); export the rows too")
        run_import({}, result.quarantine, out)
        _fail(
            f"{what}: no row could be imported; each row's reason is in "
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
    if result.counts.get("ids_equal_but_for_leading_zeros"):
        typer.echo(
            "some ids differ only by leading zeros ('007' and '7'): if they are one customer, "
            "set normalise_ids: true in the mapping (or --normalise-ids)"
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


@import_app.command("events")
def import_events(
    files: Annotated[
        list[Path] | None, typer.Argument(help="Source files (default: the map's)")
    ] = None,
    out: Annotated[Path, typer.Option()] = Path("data"),
    map_file: Annotated[
        Path | None,
        typer.Option("--map", help="Mapping YAML: each source's file, columns and formats"),
    ] = None,
    customer_col: Annotated[str | None, typer.Option(help="Without --map: the id column")] = None,
    time_col: Annotated[str | None, typer.Option(help="Without --map: the time column")] = None,
    type_col: Annotated[str | None, typer.Option(help="Column holding the event type")] = None,
    event_type: Annotated[str | None, typer.Option(help="One event type for every row")] = None,
    channel_col: Annotated[str | None, typer.Option(help="Column holding the channel")] = None,
    channel: Annotated[str | None, typer.Option(help="One channel for every row")] = None,
    value_col: Annotated[str | None, typer.Option(help="Column holding a number")] = None,
    text_col: Annotated[str | None, typer.Option(help="Column holding free text")] = None,
    delimiter: Annotated[str, typer.Option(help="auto , ; tab | whitespace")] = "auto",
    decimal: Annotated[str, typer.Option(help="Decimal mark: . or ,")] = ".",
    time_format: Annotated[str | None, typer.Option(help="e.g. %Y%m%d; default ISO 8601")] = None,
    timezone: Annotated[str, typer.Option(help="Time zone of naive timestamps")] = "UTC",
    normalise_ids: Annotated[
        bool, typer.Option(help="Drop leading zeros of all-digit ids ('007' joins '7')")
    ] = False,
) -> None:
    """Any event log (CRM, ticketing, surveys, web analytics; one or several files) -> customers +
    events, each row tagged with its source. Describe the files in a mapping (--map, see
    docs/import.md) or, for files alike, with the column flags."""
    from cxml.data import event_logs

    def mapping() -> event_logs.EventLogMapping:
        if map_file is not None:
            found = event_logs.read_mapping(map_file)
            return replace(
                found,
                sources=_chosen(found.sources, files or []),
                normalise_ids=found.normalise_ids or normalise_ids,
            )
        if not files or customer_col is None or time_col is None:
            raise event_logs.SourceError(
                "cxml import events: give --map mapping.yaml, or the files with at least "
                "--customer-col and --time-col (and --type-col or --event-type)"
            )
        settings = {
            "columns": {
                "customer_id": customer_col,
                "event_time": time_col,
                "event_type": type_col,
                "channel": channel_col,
                "value": value_col,
                "text": text_col,
            },
            "event_type": event_type,
            "channel": channel,
            "delimiter": delimiter,
            "decimal": decimal,
            "time_format": time_format,
            "timezone": timezone,
        }
        sources = [{"file": str(f), **settings} for f in files]
        return event_logs.parse_mapping({"sources": sources, "normalise_ids": normalise_ids})

    what = ", ".join(f.name for f in files or []) or str(map_file)
    _run(what, lambda: event_logs.import_events(mapping()), out)


def _chosen(sources: tuple, files: list[Path]) -> tuple:
    """The map's sources, or those named by `files` (matched by file name, read from `files`)."""
    if not files:
        return sources
    by_name = {s.file.name: s for s in sources}
    unknown = [f.name for f in files if f.name not in by_name]
    if unknown:
        from cxml.data.sources import SourceError

        raise SourceError(
            f"{', '.join(unknown)}: not in the mapping (it describes "
            f"{', '.join(by_name)}): add a source for it or check the name"
        )
    return tuple(replace(by_name[f.name], file=f) for f in files)
