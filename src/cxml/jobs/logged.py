"""What may go into MLflow, and how: texts as strict JSON, never a PII column, and input tables as
metadata-only datasets (a digest over every row, the column types, the row count)."""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import mlflow
import pandas as pd
from mlflow.data.dataset_source_registry import resolve_dataset_source
from mlflow.data.meta_dataset import MetaDataset
from mlflow.types import ColSpec, Schema

from cxml.data.io import json_text
from cxml.data.validate import is_pii


def _check_no_pii(
    frame_or_names: pd.DataFrame | Iterable[str], pii_columns: Iterable[str], what: str = "data"
) -> None:
    """Last line of defence: customer PII must never be written to the tracking store."""
    if isinstance(frame_or_names, pd.DataFrame):
        names = [*map(str, frame_or_names.columns), *map(str, frame_or_names.index.names)]
    else:
        names = [str(name) for name in frame_or_names]
    found = sorted(
        {name for name, pii in zip(names, is_pii(names, pii_columns), strict=True) if pii}
    )
    if found:
        raise ValueError(
            f"{what} contains PII column(s) {found}: drop them (or pass only synthetic/aggregate "
            "data) before logging to MLflow"
        )


def _strict_json(texts: Mapping[str, str]) -> dict[str, str]:
    """The texts to log, each `.json` one rewritten as strict JSON (NaN and Infinity, which
    Python's json writes by default, become null); one that is not JSON at all is refused."""
    strict = dict(texts)
    for name, text in texts.items():
        if not name.endswith(".json"):
            continue
        try:
            strict[name] = json_text(json.loads(text)) + "\n"
        except ValueError as exc:
            raise ValueError(
                f"text {name!r} is not JSON ({exc}): fix it or log it as .txt"
            ) from None
    return strict


@dataclass(frozen=True)
class InputTable:
    """A table a run read, to log as an MLflow dataset: its name, its rows, and where it came
    from (a file path or folder). Only a digest, the row count and the column types are logged,
    never rows, and never a PII column's name."""

    name: str
    frame: pd.DataFrame
    source: str
    context: str = "training"


def table_digest(frame: pd.DataFrame) -> str:
    """A fingerprint of every row and column (MLflow's own looks at the first rows only): the
    same table gives the same digest, a changed value a different one."""
    hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    names = "\x1f".join(map(str, frame.columns)).encode()
    return hashlib.sha256(names + hashed.tobytes()).hexdigest()[:16]


def _col_type(column: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(column):
        return "boolean"
    if pd.api.types.is_integer_dtype(column):
        return "long"
    if pd.api.types.is_numeric_dtype(column):
        return "double"
    if pd.api.types.is_datetime64_any_dtype(column):
        return "datetime"
    return "string"


def _log_inputs(inputs: Iterable[InputTable], pii_columns: tuple[str, ...]) -> None:
    """Each input as a metadata-only MLflow dataset (digest, schema, rows), PII columns left out."""
    for table in inputs:
        frame = table.frame.loc[:, ~is_pii(table.frame.columns, pii_columns)]
        schema = Schema([ColSpec(_col_type(frame[c]), str(c)) for c in frame.columns])
        with warnings.catch_warnings():  # 'can be interpreted in multiple ways': it is a path
            warnings.simplefilter("ignore", UserWarning)
            source = resolve_dataset_source(table.source)
        digest = table_digest(frame)
        # MetaDataset has no profile (no rows): MLflow's typing marks that abstract
        dataset = MetaDataset(source, name=table.name, digest=digest, schema=schema)  # type: ignore[abstract]
        mlflow.log_input(dataset, context=table.context, tags={"rows": str(len(frame))})
