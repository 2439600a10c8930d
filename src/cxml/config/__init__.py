"""Typed pipeline configs, loaded from `pipelines/*.yaml` (no side effects on import).

A pipeline names its data, the cutoffs it trains and is judged on, how labels are made, the
feature windows, the model settings, how it is evaluated and where it is tracked. A wrong key or
value stops the load with a message naming the file, the key and what is allowed.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    with_config,
)

# The settings of features and of next-best-action live in their own modules; every config
# concept is importable from here.
from cxml.config.actions import NO_ACTION as NO_ACTION
from cxml.config.actions import Action as Action
from cxml.config.actions import ActionsConfig as ActionsConfig
from cxml.config.actions import ContactPolicy as ContactPolicy
from cxml.config.actions import CustomerValue as CustomerValue
from cxml.config.actions import Rule as Rule
from cxml.config.actions import catalog_names as catalog_names
from cxml.config.base import FORBID as FORBID
from cxml.config.base import ConfigError as ConfigError
from cxml.config.features import DEFAULT_PII_COLUMNS as DEFAULT_PII_COLUMNS
from cxml.config.features import KNOWN_CHANNELS as KNOWN_CHANNELS
from cxml.config.features import KNOWN_EVENT_TYPES as KNOWN_EVENT_TYPES
from cxml.config.features import ChannelKind as ChannelKind
from cxml.config.features import EventKind as EventKind
from cxml.config.features import FeatureConfig as FeatureConfig
from cxml.config.features import Role as Role
from cxml.config.features import Taxonomy as Taxonomy
from cxml.config.features import TopicWeights as TopicWeights

SHARED_DATA_DEFAULT = "../shared/data"

Target = Literal["churn", "satisfaction_drop"]
T = TypeVar("T")


# Each setting is defined once, as a small frozen dataclass: the domain layers take these values,
# and `load_config` validates a pipeline file into them (pydantic reads the annotations; a wrong
# key or value is reported with its path).
@with_config(FORBID)
@dataclass(frozen=True)
class ReadLimits:
    """Caps on one table file of a data dir, so a compression bomb or a wrong file stops with a
    message instead of filling the memory: the bytes it may hold once decompressed (CSV) or
    decoded (Parquet), and its rows."""

    max_file_bytes: Annotated[int, Field(ge=1)] = 4 * 1024**3
    max_rows: Annotated[int, Field(ge=1)] = 100_000_000


@with_config(FORBID)
@dataclass(frozen=True)
class DataConfig:
    dir: Path
    importer: Literal["telco", "online-retail", "hillstrom", "events"] | None = None
    #: The raw file the importer reads when `dir` has no tables yet (`events`: its mapping file).
    source: Path | None = None
    limits: ReadLimits = ReadLimits()


@with_config(FORBID)
@dataclass(frozen=True)
class CutoffConfig:
    first: dt.date | None = None  # monthly cutoffs from here ...
    last: dt.date | None = None  # ... to here
    extra: tuple[dt.date, ...] = ()  # e.g. the simulator's evaluation cutoff
    n_test: Annotated[int, Field(ge=1)] = 1
    n_validation: Annotated[int, Field(ge=0)] = 1  # 0: stop and calibrate on held-out customers


@with_config(FORBID)
@dataclass(frozen=True)
class LabelConfig:
    """How labels are made at a cutoff (the label window is [cutoff, cutoff + horizon))."""

    source: Literal["derived", "table"] = "derived"  # `table`: the data dir's labels table
    horizon_days: Annotated[int, Field(ge=1)] = 90
    churn: Literal["contractual", "inactivity"] = "contractual"
    #: Inactivity churn: the event types that count as activity ...
    activity_types: tuple[str, ...] = ("purchase", "login", "usage")
    #: ... and a row needs activity in [cutoff - lookback, cutoff).
    lookback_days: Annotated[int, Field(ge=1)] = 90
    survey_type: str = "survey_nps"
    #: Satisfaction drop: the new score is at most the previous one minus this margin ...
    drop_margin: Annotated[float, Field(gt=0)] = 2.0
    #: ... or (if set) the score falls a band.
    band_drop: bool = True
    #: Lower edges of the bands above the lowest; NPS: detractor 0-6, passive 7-8, promoter 9-10.
    band_edges: tuple[float, ...] = (7.0, 9.0)

    @property
    def horizon(self) -> dt.timedelta:
        return dt.timedelta(days=self.horizon_days)


@with_config(FORBID)
@dataclass(frozen=True)
class ModelConfig:
    learning_rate: Annotated[float, Field(gt=0, le=1)] = 0.05
    num_leaves: Annotated[int, Field(ge=2)] = 31
    min_child_samples: Annotated[int, Field(ge=1)] = 50
    feature_fraction: Annotated[float, Field(gt=0, le=1)] = 0.8
    bagging_fraction: Annotated[float, Field(gt=0, le=1)] = 0.8
    lambda_l2: Annotated[float, Field(ge=0)] = 1.0
    max_rounds: Annotated[int, Field(ge=1)] = 2000
    early_stopping_rounds: Annotated[int, Field(ge=1)] = 100
    #: auto: the lowest cross-validated log-loss on the most recent labelled rows
    calibration: Literal["auto", "isotonic", "sigmoid", "none"] = "auto"
    #: The model shipped: auto: trees, the logistic baseline or their blend, whichever ranks
    #: the held-out recent rows best (the run records which, and why)
    choose: Literal["auto", "boosted", "blend", "logistic"] = "auto"
    #: Keep each feature's direction from the catalog (FeatureConfig.risk_types) in the trees.
    monotone: bool = True
    baseline_features: Literal["all", "rfm"] = "all"
    threads: Annotated[int, Field(ge=1)] = 2
    seed: int = 7
    #: The most person-periods (a row per week each customer was watched) the time-to-churn
    #: model learns from; a random sample of the rows beyond it bounds its memory and time.
    survival_periods: Annotated[int, Field(ge=1000)] = 400_000


@with_config(FORBID)
@dataclass(frozen=True)
class ExperimentConfig:
    """What every `cxml score` run randomises so its decisions can be checked later
    (actions/experiment.py): the share of each risk band held out as a control group, and the
    share of customers with an eligible action given one at random instead (exploration)."""

    holdout: Annotated[float, Field(ge=0, le=0.5)] = 0.05
    explore: Annotated[float, Field(ge=0, le=0.5)] = 0.05
    seed: int = 0  # with the cutoff: a run scored again draws the same groups


@with_config(FORBID)
@dataclass(frozen=True)
class EvaluationConfig:
    kind: Literal["out_of_time", "cross_validation"] = "out_of_time"
    folds: Annotated[int, Field(ge=2)] = 5
    segments: tuple[str, ...] = ()
    promote_metric: str = "churn_roc_auc"


@with_config(FORBID)
@dataclass(frozen=True)
class TrackingConfig:
    experiment: str
    model_name: str


@with_config(FORBID)
@dataclass(frozen=True)
class MonitorConfig:
    """When `cxml monitor` alerts (a distinct exit code): a feature has drifted when its PSI
    against the training profile reaches `psi_threshold` beyond what chance gives; the run
    alerts when more than `max_drift_share` of the features drifted, when the AUC expected from
    the calibrated probabilities is more than `max_expected_auc_drop` below the test AUC, or
    when the latest scoring whose outcomes are known realised an AUC below `min_realised_auc`
    or a calibration error (ECE) above `max_ece`."""

    psi_threshold: Annotated[float, Field(gt=0)] = 0.25
    max_drift_share: Annotated[float, Field(ge=0, le=1)] = 0.1
    max_expected_auc_drop: Annotated[float, Field(ge=0, le=1)] = 0.05
    min_realised_auc: Annotated[float, Field(ge=0, le=1)] = 0.6
    max_ece: Annotated[float, Field(ge=0, le=1)] = 0.05
    #: How many of the newest scorings whose outcome window has closed the scoring report and
    #: `cxml monitor` judge: each is read and its window's churners found, so a weekly run
    #: costs the same after a year of runs as after a quarter. Older ones are counted.
    judged_scorings: Annotated[int, Field(ge=1)] = 13


class PipelineConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    targets: tuple[Target, ...] = ("churn", "satisfaction_drop")
    data: DataConfig
    cutoffs: CutoffConfig = CutoffConfig()
    labels: LabelConfig = LabelConfig()
    features: FeatureConfig = FeatureConfig()
    model: ModelConfig = ModelConfig()
    evaluation: EvaluationConfig = EvaluationConfig()
    actions: ActionsConfig | None = None
    experiment: ExperimentConfig = ExperimentConfig()
    tracking: TrackingConfig
    monitor: MonitorConfig = MonitorConfig()

    @field_validator("targets")
    @classmethod
    def _some_target(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("name at least one target: churn, satisfaction_drop")
        return value


def plain(value: object) -> Any:
    """A settings dataclass as plain data (dicts, lists, strings, numbers): what a model bundle
    stores, so that renaming a class here never breaks loading a registered model."""
    return TypeAdapter(type(value)).dump_python(value, mode="json")


def from_plain(kind: type[T], data: object) -> T:
    """`plain` read back into its dataclass, checked as a pipeline file is."""
    return TypeAdapter(kind).validate_python(data)


def _expand(text: str) -> str:
    """`${VAR}` from the environment; CXML_SHARED_DATA defaults to ../shared/data."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        default = SHARED_DATA_DEFAULT if name == "CXML_SHARED_DATA" else None
        found = os.environ.get(name, default)
        if found is None:
            raise ConfigError(f"environment variable {name} is not set: set it or edit the path")
        return found

    return re.sub(r"\$\{(\w+)\}", value, text)


def describe_invalid(error: ValidationError, path: Path, what: str = "the pipeline config") -> str:
    """A validation error as lines naming each key and what is wrong with it."""
    lines = [f"{path}: {what} is not valid:"]
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"]) or "(top level)"
        unknown = item["type"] in ("extra_forbidden", "unexpected_keyword_argument")
        problem = "unknown key (check the spelling)" if unknown else ""
        lines.append(f"  {key}: {problem or item['msg']}")
    return "\n".join(lines)


def read_settings(path: Path, what: str = "pipeline config") -> dict[str, Any]:
    """The mapping of settings in a YAML file, `${VAR}` expanded; a ConfigError says what is
    wrong with the file."""
    try:
        raw = yaml.safe_load(_expand(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such {what}; check the path") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text; save the {what} as UTF-8") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc}); fix the file") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top level")
    return raw


def load_config(path: str | Path, data_dir: str | Path | None = None) -> PipelineConfig:
    """The validated config at `path`; `data_dir` overrides its `data.dir`."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such pipeline config; see pipelines/ for examples")
    raw = read_settings(path)
    if data_dir is not None:
        raw.setdefault("data", {})["dir"] = str(data_dir)
    try:
        return PipelineConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(describe_invalid(exc, path)) from None
