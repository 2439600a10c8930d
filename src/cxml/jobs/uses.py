"""Runs that record a use of a registered version (a scoring, a monitoring), tagged so they are
found again, with small Parquet artifacts that can be read back or, to forget customers,
rewritten."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd

from cxml.jobs.logged import _check_no_pii, _strict_json
from cxml.jobs.tracking import _client, _log_run_data

KIND_TAG, MODEL_TAG, VERSION_TAG = "cxml.kind", "cxml.model_name", "cxml.model_version"


@dataclass(frozen=True)
class Use:
    """A recorded use as `find_uses` finds it: its run, and the params and metrics it logged."""

    run_id: str
    params: dict[str, str]
    metrics: dict[str, float]


def log_use(
    *,
    kind: str,
    experiment: str,
    run_name: str,
    model_name: str,
    version: str,
    params: dict[str, object],
    metrics: dict[str, float],
    frames: dict[str, pd.DataFrame],
    texts: dict[str, str],
    pii_columns: tuple[str, ...],
) -> str:
    """One run recording a use of a registered version (`kind`: a scoring, a monitoring),
    tagged so `find_uses` finds it; `frames` are logged as Parquet under their names. Returns
    the run id."""
    from cxml.data.io import save_parquet

    texts = _strict_json(texts)
    for name, frame in frames.items():
        _check_no_pii(frame, pii_columns, f"artifact {name!r}")
    _client()
    mlflow.set_experiment(experiment)
    tags = {KIND_TAG: kind, MODEL_TAG: model_name, VERSION_TAG: version}
    with mlflow.start_run(run_name=run_name) as run, tempfile.TemporaryDirectory() as tmp:
        _log_run_data(params, metrics, {}, {}, texts, tags)
        for name, frame in frames.items():
            path = Path(tmp, name)
            path.parent.mkdir(parents=True, exist_ok=True)
            save_parquet(frame, path)
            mlflow.log_artifact(str(path), str(Path(name).parent) if "/" in name else None)
    return str(run.info.run_id)


def find_uses(kind: str, model_name: str) -> list[Use]:
    """Every finished `log_use` run of `kind` for the model, in any experiment, newest first."""
    client = _client()
    experiments = [e.experiment_id for e in _every(client.search_experiments)]
    if not experiments:
        return []
    escaped = model_name.replace("'", "\\'")
    query = (
        f"tags.`{KIND_TAG}` = '{kind}' AND tags.`{MODEL_TAG}` = '{escaped}' "
        "AND attributes.status = 'FINISHED'"
    )
    runs = _every(
        lambda **page: client.search_runs(
            experiments, query, order_by=["attributes.start_time DESC"], **page
        )
    )
    return [Use(r.info.run_id, dict(r.data.params), dict(r.data.metrics)) for r in runs]


def _every(search: Callable[..., Any]) -> list[Any]:
    """All pages of an MLflow search."""
    found, token = [], None
    while True:
        page = search(page_token=token)
        found += list(page)
        token = page.token
        if not token:
            return found


def replace_use_frame(run_id: str, name: str, frame: pd.DataFrame) -> None:
    """Write `frame` over the Parquet artifact `name` of a `log_use` run (to forget rows)."""
    from cxml.data.io import save_parquet

    folder, _, file_name = name.rpartition("/")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, file_name)
        save_parquet(frame, Path(path))
        _client().log_artifact(run_id, path, folder or None)


def use_frame(run_id: str, name: str) -> pd.DataFrame:
    """A Parquet artifact `log_use` logged under `name`."""
    with tempfile.TemporaryDirectory() as tmp:
        return pd.read_parquet(_client().download_artifacts(run_id, name, tmp))
