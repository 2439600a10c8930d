"""The commands about registered models: promote, roll back, list, export and serve one."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from cxml.cli.errors import _errors, _fail


def promote(
    model_name: Annotated[str, typer.Argument(help="Registered model, e.g. cxml-demo")],
    version: Annotated[str, typer.Argument(help="Version to make champion")],
    reason: Annotated[str, typer.Option(help="Why (kept with the version)")] = "promoted by hand",
) -> None:
    """Make a registered version the champion (scoring and serving load @champion)."""
    from cxml.jobs import tracking

    with _errors():
        typer.echo(tracking.promote(model_name, version, reason))


def rollback(
    model_name: Annotated[str, typer.Argument(help="Registered model, e.g. cxml-demo")],
) -> None:
    """Move the champion back to the version it replaced."""
    from cxml.jobs import tracking

    with _errors():
        typer.echo(tracking.rollback(model_name))


def models(
    model_name: Annotated[str, typer.Argument(help="Registered model, e.g. cxml-demo")],
) -> None:
    """List a registered model's versions with their aliases and metric."""
    from cxml.jobs import tracking

    with _errors():
        table = tracking.model_versions(model_name)
    typer.echo(table.to_string(index=False))


def export(
    config: Annotated[Path, typer.Option(help="Pipeline config, e.g. pipelines/demo.yaml")],
    model_ref: Annotated[str, typer.Option(help="Alias or version to export")] = "champion",
    out: Annotated[Path, typer.Option(help="Folder for <model name>/<version>/")] = Path("models"),
) -> None:
    """Export a registered version as a self-contained MLflow model with its model card: it
    loads with mlflow.pyfunc.load_model where cxml is not installed and answers as cxml score."""
    from cxml.config import load_config
    from cxml.jobs.export import run_export

    with _errors():
        path = run_export(load_config(config), model_ref, out)
    typer.echo(f"exported {path.parent.name} v{path.name} -> {path}")
    typer.echo(f"  model card: {path / 'README.md'}")


def serve(
    config: Annotated[Path, typer.Option(help="Pipeline config: model name, data dir")] = Path(
        "pipelines/demo.yaml"
    ),
    model_ref: Annotated[str, typer.Option(help="Registered alias or version to serve")] = (
        "champion"
    ),
    host: Annotated[str, typer.Option(help="Interface to listen on (0.0.0.0: all)")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on")] = 3000,
    scored: Annotated[
        Path | None, typer.Option(help="A `cxml score --out` folder to show at /ui")
    ] = None,
) -> None:
    """Serve the model over HTTP (BentoML): /predict, /predict_batch, /predict_by_id, and with
    --scored the team's page at /ui.

    CXML_API_KEY: require the header 'Authorization: Bearer <key>'.
    MLFLOW_TRACKING_URI: the registry to load from.
    CXML_MAX_BODY_BYTES, CXML_MAX_EVENTS, CXML_MAX_BATCH: request limits.
    CXML_HEADER_TIMEOUT, CXML_BODY_TIMEOUT: seconds a request's headers, then its body, may take."""
    import sys

    if not config.is_file():
        _fail(f"--config {config}: no such file; see pipelines/ for examples")
    if scored is not None and not (scored / "scored.parquet").is_file():
        _fail(f"--scored {scored}: no scored.parquet there; give a `cxml score --out` folder")
    if host not in ("127.0.0.1", "localhost", "::1") and not os.environ.get("CXML_API_KEY"):
        typer.echo(
            f"warning: serving on {host} without CXML_API_KEY: anyone who can reach port "
            f"{port} can score customers; set CXML_API_KEY",
            err=True,
        )
    env = {
        **os.environ,
        "CXML_CONFIG": str(config.resolve()),
        "CXML_MODEL_REF": model_ref,
        "BENTOML_DO_NOT_TRACK": os.environ.get("BENTOML_DO_NOT_TRACK", "True"),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),
    }
    if scored is not None:
        env["CXML_SCORED"] = str(scored.resolve())
    command = [sys.executable, "-m", "bentoml", "serve", "cxml.service:CxmlService"]
    command += ["--host", host, "--port", str(port)]
    sys.stdout.flush()
    os.execve(sys.executable, command, env)
