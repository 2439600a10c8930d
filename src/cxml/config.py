"""Typed pipeline configs, loaded from `pipelines/*.yaml` (no side effects on import).

A pipeline names its data, the cutoffs it trains and is judged on, how labels are made, the
feature windows, the model settings, how it is evaluated and where it is tracked. A wrong key or
value stops the load with a message naming the file, the key and what is allowed.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

SHARED_DATA_DEFAULT = "../shared/data"

#: Event types with a meaning for features and labels; any other type is counted generically.
KNOWN_EVENT_TYPES = (
    "purchase",
    "login",
    "usage",
    "support_ticket",
    "complaint",
    "payment_failed",
    "survey_nps",
    "survey_csat",
    "cancel",
)

#: Touchpoints the simulator and importers use; other channel names are allowed.
KNOWN_CHANNELS = ("web", "app", "call_centre", "store", "email", "chat", "social")

#: Column names treated as PII unless a pipeline config says otherwise.
DEFAULT_PII_COLUMNS = ("name", "email", "phone", "address", "postcode", "date_of_birth")
Target = Literal["churn", "satisfaction_drop"]


class ConfigError(ValueError):
    """A pipeline config that cannot be used; the message names the file, key and fix."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataConfig(_Strict):
    dir: Path
    importer: Literal["telco", "online-retail", "hillstrom"] | None = None
    source: Path | None = None  # the raw file the importer reads when `dir` has no tables yet


class CutoffConfig(_Strict):
    first: dt.date | None = None  # monthly cutoffs from here ...
    last: dt.date | None = None  # ... to here
    extra: list[dt.date] = Field(default_factory=list)  # e.g. the simulator's evaluation cutoff
    n_test: int = Field(1, ge=1)
    n_validation: int = Field(1, ge=0)  # 0: stop and calibrate on held-out customers


class LabelsConfig(_Strict):
    source: Literal["derived", "table"] = "derived"  # `table`: the data dir's labels table
    horizon_days: int = Field(90, ge=1)
    churn: Literal["contractual", "inactivity"] = "contractual"
    activity_types: tuple[str, ...] = ("purchase", "login", "usage")
    lookback_days: int = Field(90, ge=1)
    survey_type: str = "survey_nps"
    drop_margin: float = Field(2.0, gt=0)
    band_drop: bool = True


class FeaturesConfig(_Strict):
    windows: tuple[int, ...] = (7, 30, 90, 365)
    pii_columns: tuple[str, ...] = DEFAULT_PII_COLUMNS


class ModelConfig(_Strict):
    learning_rate: float = Field(0.05, gt=0, le=1)
    num_leaves: int = Field(31, ge=2)
    min_child_samples: int = Field(50, ge=1)
    feature_fraction: float = Field(0.8, gt=0, le=1)
    bagging_fraction: float = Field(0.8, gt=0, le=1)
    lambda_l2: float = Field(1.0, ge=0)
    max_rounds: int = Field(2000, ge=1)
    early_stopping_rounds: int = Field(100, ge=1)
    calibration: Literal["isotonic", "sigmoid"] = "isotonic"
    baseline_features: Literal["all", "rfm"] = "all"
    threads: int = Field(2, ge=1)
    seed: int = 7


class EvaluationConfig(_Strict):
    kind: Literal["out_of_time", "cross_validation"] = "out_of_time"
    folds: int = Field(5, ge=2)
    segments: tuple[str, ...] = ()
    promote_metric: str = "churn_roc_auc"


class TrackingConfig(_Strict):
    experiment: str
    model_name: str


class RuleConfig(_Strict):
    column: str  # a customer attribute, or a feature such as customer_value
    isin: tuple[str, ...] | None = None
    min: float | None = None
    max: float | None = None


class ActionConfig(_Strict):
    name: str
    channel: str
    cost: float = Field(ge=0)
    rules: tuple[RuleConfig, ...] = ()
    capacity: int | None = Field(None, ge=0)
    cooldown_days: int = Field(0, ge=0)  # no repeat of this offer within D days


class ContactConfig(_Strict):
    max_contacts: int = Field(ge=1)  # at most N contacts per channel ...
    period_days: int = Field(ge=1)  # ... within this many days


class ValueConfig(_Strict):
    """Customer value = multiplier x a feature column, e.g. 12 x monthly charge."""

    feature: str
    multiplier: float = Field(1.0, gt=0)


class ActionsConfig(_Strict):
    control: str = "none"  # the log's name for no action
    outcome: Literal["churn"] | tuple[str, ...] = "churn"  # or event types, e.g. [visit]
    horizon_days: int = Field(90, ge=1)
    learner: Literal["t", "x", "dr", "offset"] = "offset"
    # Learn uplift only from campaign rows whose outcome window holds no other logged action for
    # the customer: elsewhere the outcome mixes two actions' effects, and untreated customers,
    # free to be picked by the next campaign, would lend the control arm part of an effect.
    drop_retreated: bool = True
    value: ValueConfig
    budget: float | None = Field(None, ge=0)
    allocation: Literal["greedy", "exact"] = "exact"
    contact: ContactConfig | None = None
    catalog: tuple[ActionConfig, ...] = Field(min_length=1)


class PipelineConfig(_Strict):
    name: str
    targets: tuple[Target, ...] = ("churn", "satisfaction_drop")
    data: DataConfig
    cutoffs: CutoffConfig = CutoffConfig()
    labels: LabelsConfig = LabelsConfig()
    features: FeaturesConfig = FeaturesConfig()
    model: ModelConfig = ModelConfig()
    evaluation: EvaluationConfig = EvaluationConfig()
    actions: ActionsConfig | None = None
    tracking: TrackingConfig

    @field_validator("targets")
    @classmethod
    def _some_target(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("name at least one target: churn, satisfaction_drop")
        return value


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


def _describe(error: ValidationError, path: Path) -> str:
    lines = [f"{path}: the pipeline config is not valid:"]
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"]) or "(top level)"
        problem = "unknown key (check the spelling)" if item["type"] == "extra_forbidden" else ""
        lines.append(f"  {key}: {problem or item['msg']}")
    return "\n".join(lines)


def load_config(path: str | Path, data_dir: str | Path | None = None) -> PipelineConfig:
    """The validated config at `path`; `data_dir` overrides its `data.dir`."""
    path = Path(path)
    try:
        raw = yaml.safe_load(_expand(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such pipeline config; see pipelines/ for examples") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc}); fix the file") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top level")
    if data_dir is not None:
        raw.setdefault("data", {})["dir"] = str(data_dir)
    try:
        return PipelineConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, path)) from None
