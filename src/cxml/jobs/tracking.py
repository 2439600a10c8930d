"""MLflow runs and model registry: the only module importing mlflow, whose API moves fast, so an
upgrade touches one file. Promotion uses aliases (champion, challenger); stages are deprecated."""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import mlflow
import mlflow.pyfunc
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature
from mlflow.pyfunc import PythonModel

from cxml.jobs.logged import InputTable, _check_no_pii, _log_inputs, _strict_json
from cxml.jobs.provenance import code_version, package_version, pip_requirements
from cxml.jobs.store import check_store, tracking_uri
from cxml.models.bundle import BundleLayoutError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

CHAMPION = "champion"
CHALLENGER = "challenger"
PREVIOUS_CHAMPION_TAG = "cxml.previous_champion"
PROMOTION_TAG = "cxml.promotion"
PROMOTE_METRIC_TAG = "cxml.promote_metric"
CODE_VERSION_TAG = "cxml.code_version"
PACKAGE_VERSION_TAG = "cxml.package_version"
# MLflow rejects or truncates (with a warning) longer param values; we cut them ourselves first.
_PARAM_MAX_CHARS = 6000
_TRUNCATED = "...[truncated]"
# MLflow logs INFO lines on every call; keep real warnings only. cxml pickles model objects on
# purpose, so MLflow's cloudpickle notice (repeated on every log_model) is dropped too.
logging.getLogger("mlflow").setLevel(logging.WARNING)
logging.getLogger("mlflow.pyfunc").addFilter(
    lambda record: "Passing a Python object as `python_model`" not in record.getMessage()
)
# Its artifact progress bars would draw over the commands' own output (set it to true to see).
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


@dataclass(frozen=True)
class RunRecord:
    """What one training run produced and whether it now serves as champion."""

    run_id: str
    model_name: str
    version: str
    promoted: bool
    decision: str


class _CxmlPyfunc(PythonModel):
    """Lets MLflow store, serve and reload any object with `.predict(frame) -> frame`."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        return self.model.predict(model_input, **(params or {}))


def _client() -> MlflowClient:
    """Point the fluent API and a client at the store, re-read on every call. MLflow also exports
    the URI to os.environ, which would pin the cwd default for later calls: undo that."""
    uri, env_before = tracking_uri(), os.environ.get("MLFLOW_TRACKING_URI")
    check_store(uri)
    mlflow.set_tracking_uri(uri)
    if env_before is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    return MlflowClient(tracking_uri=uri)


def _param_value(value: object) -> str:
    """MLflow stores params as bounded strings; cut long ones visibly instead of failing."""
    text = str(value)
    cut = _PARAM_MAX_CHARS - len(_TRUNCATED)
    return text if len(text) <= _PARAM_MAX_CHARS else text[:cut] + _TRUNCATED


def _check_inputs(
    metrics: Mapping[str, float],
    promote_metric: str,
    tables: Mapping[str, pd.DataFrame],
    texts: Mapping[str, str],
    input_example: pd.DataFrame,
    pii_columns: tuple[str, ...],
) -> None:
    """Fail before a run is opened, so a bad call leaves nothing half-logged."""
    if promote_metric not in metrics:
        raise ValueError(
            f"promote_metric {promote_metric!r} is not among the logged metrics "
            f"{sorted(metrics)}: pass it in metrics or choose one of those"
        )
    for name, table in tables.items():
        _check_no_pii(table, pii_columns, f"table {name!r}")
    _check_no_pii(input_example, pii_columns, "input_example")
    _check_no_pii(texts.get("feature_list.txt", "").split(), pii_columns, "feature_list.txt")


def _log_run_data(
    params: Mapping[str, object],
    metrics: Mapping[str, float],
    tables: Mapping[str, pd.DataFrame],
    figures: Mapping[str, Figure],
    texts: Mapping[str, str],
    tags: Mapping[str, str] | None,
) -> None:
    """Everything except the model, into the active run."""
    mlflow.log_params({key: _param_value(value) for key, value in params.items()})
    mlflow.log_metrics({key: float(value) for key, value in metrics.items()})
    for name, table in tables.items():
        keep_index = not isinstance(table.index, pd.RangeIndex)
        mlflow.log_text(table.to_csv(index=keep_index), f"tables/{name}.csv")
    for name, figure in figures.items():
        mlflow.log_figure(figure, f"plots/{name}.png")
    for file_name, text in texts.items():
        mlflow.log_text(text, file_name)
    versions = {CODE_VERSION_TAG: code_version(), PACKAGE_VERSION_TAG: package_version()}
    mlflow.set_tags({**(tags or {}), **versions})


def _pyfunc(
    model: Any,
    input_example: pd.DataFrame,
    pii_columns: tuple[str, ...],
    params: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """What MLflow stores of a model, logged or saved: the object, its signature (`params`:
    the keyword arguments `predict` takes, with their defaults), a PII-free example and pins."""
    _check_no_pii(input_example, pii_columns, "input_example")
    prediction = model.predict(input_example)
    if isinstance(prediction, pd.DataFrame):
        _check_no_pii(prediction, pii_columns, "model output")
    with warnings.catch_warnings():  # integer outputs (a rank) are never missing
        warnings.filterwarnings("ignore", "Hint: Inferred schema contains integer", UserWarning)
        signature = infer_signature(input_example, prediction, params)
    return {
        "python_model": _CxmlPyfunc(model),
        "signature": signature,
        "input_example": input_example,
        "pip_requirements": pip_requirements(),
    }


def _log_and_register(
    model: Any, input_example: pd.DataFrame, model_name: str, pii_columns: tuple[str, ...]
) -> str:
    """Log the model as a pyfunc with a signature and register it; returns the new version."""
    info = mlflow.pyfunc.log_model(
        name="model",
        registered_model_name=model_name,
        **_pyfunc(model, input_example, pii_columns),
    )
    return str(info.registered_model_version)


def save_self_contained(
    path: Path,
    model: object,
    input_example: pd.DataFrame,
    params: dict[str, Any],
    pii_columns: tuple[str, ...] = (),
) -> None:
    """Save `model` as an MLflow model folder at `path` (which must not exist) that loads with
    `mlflow.pyfunc.load_model` where cxml is not installed: the cxml package travels in its
    `code/` folder, which MLflow puts first on sys.path when loading."""
    import cxml

    mlflow.pyfunc.save_model(
        str(path),
        code_paths=[str(Path(cxml.__file__).parent)],
        **_pyfunc(model, input_example, pii_columns, params),
    )


def _not_found(err: MlflowException) -> bool:
    """The store answered that there is no such model or version (not that it failed)."""
    return err.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE")


def _aliases(client: MlflowClient, model_name: str) -> dict[str, str]:
    """alias -> version; a clear error when the model was never registered."""
    try:
        registered = client.get_registered_model(model_name)
    except MlflowException as err:
        if not _not_found(err):  # the store itself failed (unreachable, not a database)
            raise
        raise ValueError(
            f"no registered model named {model_name!r} in {tracking_uri()}: train one "
            "(cxml train, or log_training) or check the name and MLFLOW_TRACKING_URI"
        ) from err
    return {alias: str(version) for alias, version in registered.aliases.items()}


def _run_metric(client: MlflowClient, run_id: str | None, metric: str) -> float | None:
    """The metric of the run that produced a version; None if that run did not log it."""
    if not run_id or not metric:
        return None
    value = client.get_run(run_id).data.metrics.get(metric)
    return None if value is None else float(value)


def _decide(
    client: MlflowClient,
    model_name: str,
    version: str,
    metric: str,
    value: float,
    higher: bool,
    judge: Callable[[Any], tuple[float, int] | None] | None = None,
) -> tuple[bool, str]:
    """Promote when there is no champion or the new run is strictly better on `metric`: on
    the new run's own test rows, scored by both versions, when `judge` can score the champion
    there; else on each run's logged metric, and the decision says so."""
    new = f"v{version} ({metric} {value:.6g})"
    old_version = _aliases(client, model_name).get(CHAMPION)
    if old_version is None:
        return True, f"champion {new} is the first champion of {model_name}"
    same = _on_same_rows(model_name, old_version, judge)
    if same is not None:
        theirs, rows = same
        new = f"v{version} ({metric} {value:.6g} on its {rows:,} test rows)"
        better = value > theirs if higher else value < theirs
        old = f"v{old_version} ({theirs:.6g} on the same rows)"
        if better:
            return True, f"champion {new} replaces {old}"
        return False, f"{new} does not beat champion {old}: stays challenger"
    old_run = client.get_model_version(model_name, old_version).run_id
    old_value = _run_metric(client, old_run, metric)
    if old_value is None:
        why = f"champion v{old_version} has no {metric}; compare by hand, then promote"
        return False, f"{new} stays challenger: {why}"
    old = f"v{old_version} ({old_value:.6g} logged on its own test rows)"
    if value > old_value if higher else value < old_value:
        return True, f"champion {new} replaces {old}"
    return False, f"{new} does not beat champion {old}: stays challenger"


def _on_same_rows(
    model_name: str, version: str, judge: Callable[[Any], tuple[float, int] | None] | None
) -> tuple[float, int] | None:
    """The champion's metric on the challenger's test rows, when it can be had."""
    if judge is None:
        return None
    try:
        _, champion = load_reference(model_name, version)
        return judge(champion)
    except (ValueError, KeyError):  # another layout, or features it cannot build: logged only
        return None


def _set_champion(client: MlflowClient, model_name: str, version: str, reason: str) -> str | None:
    """Move champion to `version`, remembering the one it replaces so rollback can walk back."""
    old = _aliases(client, model_name).get(CHAMPION)
    if old is not None and old != version:
        client.set_model_version_tag(model_name, version, PREVIOUS_CHAMPION_TAG, old)
    client.set_model_version_tag(model_name, version, PROMOTION_TAG, reason)
    client.set_registered_model_alias(model_name, CHAMPION, version)
    return old


def log_training(
    *,
    experiment: str,
    run_name: str,
    model_name: str,
    params: dict[str, object],
    metrics: dict[str, float],
    tables: dict[str, pd.DataFrame],
    figures: dict[str, Figure],
    texts: dict[str, str],
    model: object,
    input_example: pd.DataFrame,
    promote_metric: str,
    higher_is_better: bool = True,
    pii_columns: tuple[str, ...] = (),
    tags: dict[str, str] | None = None,
    judge: Callable[[Any], tuple[float, int] | None] | None = None,
    inputs: Iterable[InputTable] = (),
    description: str | None = None,
    begin: Callable[[str], None] = lambda stage: None,
) -> RunRecord:
    """One MLflow run: logs everything, registers the model and decides on champion.
    `begin(stage)` is told as each stage of the logging starts (for progress)."""
    texts = _strict_json(texts)
    _check_inputs(metrics, promote_metric, tables, texts, input_example, pii_columns)
    client = _client()
    mlflow.set_experiment(experiment)
    with mlflow.start_run(run_name=run_name, description=description) as run:
        begin("log run data")
        _log_inputs(inputs, pii_columns)
        _log_run_data(params, metrics, tables, figures, texts, tags)
        begin("log and register the model")
        version = _log_and_register(model, input_example, model_name, pii_columns)
        begin("decide the champion")
        # The new version is always challenger; it becomes champion only if it wins.
        client.set_model_version_tag(model_name, version, PROMOTE_METRIC_TAG, promote_metric)
        client.set_registered_model_alias(model_name, CHALLENGER, version)
        value = float(metrics[promote_metric])
        promoted, decision = _decide(
            client, model_name, version, promote_metric, value, higher_is_better, judge
        )
        if promoted:
            _set_champion(client, model_name, version, decision)
        mlflow.log_text(decision + "\n", "promotion.txt")
        mlflow.set_tag(PROMOTION_TAG, decision)
    return RunRecord(run.info.run_id, model_name, version, promoted, decision)


def load_pyfunc(model_name: str, alias: str = CHAMPION) -> Any:
    """The MLflow pyfunc model, to check what a serving layer would predict."""
    if alias not in _aliases(_client(), model_name):
        raise ValueError(
            f"model {model_name!r} has no version with alias {alias!r}: train one with "
            "log_training or set it with promote"
        )
    return mlflow.pyfunc.load_model(f"models:/{model_name}@{alias}")


def load_model(model_name: str, alias: str = CHAMPION) -> object:
    """The original Python object that was logged, for callers that need more than predict."""
    return load_reference(model_name, alias)[1]


def _existing_version(client: MlflowClient, model_name: str, version: str) -> str:
    """Normalise 'v3'/'3' and fail clearly when the version is not registered."""
    number = str(version).strip().lstrip("vV")
    try:
        client.get_model_version(model_name, number)
    except MlflowException as err:
        if not _not_found(err):
            raise
        raise ValueError(
            f"model {model_name!r} has no version {version!r} in {tracking_uri()}: "
            "pick one listed by model_versions"
        ) from err
    return number


def promote(model_name: str, version: str, reason: str = "promoted by hand") -> str:
    """Make `version` the champion by hand; the old champion is kept for rollback."""
    client = _client()
    number = _existing_version(client, model_name, version)
    old = _set_champion(client, model_name, number, reason)
    was = f"was v{old}" if old is not None else "no champion before"
    return f"champion of {model_name} is now v{number} ({was}): {reason}"


def rollback(model_name: str) -> str:
    """Move champion back to the version it replaced, e.g. after a bad release."""
    client = _client()
    current = _aliases(client, model_name).get(CHAMPION)
    if current is None:
        raise ValueError(f"model {model_name!r} has no champion, so nothing to roll back")
    previous = client.get_model_version(model_name, current).tags.get(PREVIOUS_CHAMPION_TAG)
    if not previous:
        raise ValueError(
            f"champion v{current} of {model_name!r} has no earlier champion to roll back to: "
            "use promote to choose a version"
        )
    previous = _existing_version(client, model_name, previous)
    client.set_registered_model_alias(model_name, CHAMPION, previous)
    return f"champion of {model_name} rolled back from v{current} to v{previous}"


def model_versions(model_name: str) -> pd.DataFrame:
    """One row per registered version, for a CLI listing."""
    client = _client()
    aliases_now = _aliases(client, model_name)
    escaped = model_name.replace("'", "\\'")
    rows = []
    for mv in client.search_model_versions(f"name = '{escaped}'"):
        metric = mv.tags.get(PROMOTE_METRIC_TAG, "")
        value = _run_metric(client, mv.run_id, metric)
        aliases = ",".join(sorted(a for a, v in aliases_now.items() if v == str(mv.version)))
        created = pd.Timestamp(mv.creation_timestamp, unit="ms", tz="UTC")
        rows.append((int(mv.version), aliases, mv.run_id, metric, value, created))
    columns = ["version", "aliases", "run_id", "metric", "value", "created"]
    return pd.DataFrame(rows, columns=columns).sort_values("version", ignore_index=True)


def load_reference(model_name: str, ref: str = CHAMPION) -> tuple[str, object]:
    """(version, original object) for an alias ('champion') or a version ('3' or 'v3'): scoring
    and serving resolve once and report the version they used."""
    client = _client()
    if ref.strip().lstrip("vV").isdigit():
        version = _existing_version(client, model_name, ref)
    else:
        aliases = _aliases(client, model_name)
        if ref not in aliases:
            raise ValueError(
                f"model {model_name!r} has no version with alias {ref!r} in {tracking_uri()}: "
                "train one (cxml train) or set it (cxml promote)"
            )
        version = aliases[ref]
    try:
        loaded = mlflow.pyfunc.load_model(f"models:/{model_name}/{version}")
    except (ImportError, AttributeError, BundleLayoutError) as exc:
        raise ValueError(
            f"{model_name!r} v{version} was saved by another version of cxml and cannot be "
            f"read by this one ({exc}): retrain it with `cxml train`, or score it with the "
            "cxml release that trained it"
        ) from None
    wrapper = loaded.unwrap_python_model()
    if not isinstance(wrapper, _CxmlPyfunc):
        raise ValueError(f"{model_name!r} v{version} was not logged by cxml")
    return version, wrapper.model
