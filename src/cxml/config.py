"""Typed pipeline configs, loaded from `pipelines/*.yaml` (no side effects on import).

A pipeline names its data, the cutoffs it trains and is judged on, how labels are made, the
feature windows, the model settings, how it is evaluated and where it is tracked. A wrong key or
value stops the load with a message naming the file, the key and what is allowed.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    with_config,
)

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
T = TypeVar("T")


class ConfigError(ValueError):
    """A pipeline config that cannot be used; the message names the file, key and fix."""


FORBID = ConfigDict(extra="forbid")


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


Role = Literal[
    "purchase",
    "login",
    "usage",
    "support_ticket",
    "complaint",
    "payment_failed",
    "survey_nps",
    "survey_csat",
    "cancel",
]


@with_config(FORBID)
@dataclass(frozen=True)
class EventKind:
    """One of the business's own event types: the built-in meaning it has (`role`: counted and
    labelled as that type), or none (counted by its own name); and how people call it."""

    role: Role | None = None
    display: str | None = None


@with_config(FORBID)
@dataclass(frozen=True)
class ChannelKind:
    display: str | None = None


@with_config(FORBID)
@dataclass(frozen=True)
class Taxonomy:
    """The business's words for its touchpoints, by their names in the data: each event type
    (several may share a role) and channel, with the name shown in reasons and reports."""

    event_types: dict[str, EventKind] = field(default_factory=dict)
    channels: dict[str, ChannelKind] = field(default_factory=dict)

    def __post_init__(self) -> None:
        shown: dict[str, str] = {}
        named = [(n, k.display) for n, k in self.event_types.items()]
        named += [(n, k.display) for n, k in self.channels.items()]
        for name, display in named:
            words = (display or name).strip().lower()
            if words in shown and shown[words] != name:
                raise ValueError(
                    f"taxonomy: '{shown[words]}' and '{name}' are both shown as '{words}': give "
                    "each its own display name"
                )
            shown[words] = name

    @property
    def aliases(self) -> dict[str, str]:
        """Raw event type -> the built-in type it counts as (only those with a role)."""
        return {raw: k.role for raw, k in self.event_types.items() if k.role and raw != k.role}

    def display(self, name: str) -> str | None:
        """How people call an event type or channel: its own display name, or for a built-in
        type, that of the business's name that has it as role."""
        if name in self.event_types:
            return self.event_types[name].display
        if name in self.channels:
            return self.channels[name].display
        shown = [k.display for k in self.event_types.values() if k.role == name and k.display]
        return shown[0] if shown else None


def _examples(value: object) -> object:
    """Labelled topic examples: as given, or read from a CSV file of `text,topic` rows (so
    that they travel with the model as plain data)."""
    if not isinstance(value, str | Path):
        return value
    import csv

    path = Path(value)
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            rows = [(r["text"], r["topic"]) for r in csv.DictReader(handle)]
    except (OSError, KeyError, UnicodeDecodeError) as exc:
        raise ValueError(
            f"{path}: cannot read labelled topic examples ({exc}); give a UTF-8 CSV with "
            "columns text,topic"
        ) from None
    return tuple(rows)


TopicExamples = Annotated[tuple[tuple[str, str], ...], BeforeValidator(_examples)]


@with_config(FORBID)
@dataclass(frozen=True)
class FeatureConfig:
    """Which features to build: windows, the event types and channels counted by name (others
    count as `other`), the types with a meaning, and the PII columns never used."""

    windows: tuple[int, ...] = (7, 30, 90, 365)
    event_types: tuple[str, ...] = tuple(t for t in KNOWN_EVENT_TYPES if t != "cancel")
    channels: tuple[str, ...] = KNOWN_CHANNELS
    amount_type: str = "purchase"
    ticket_type: str = "support_ticket"
    nps_type: str = "survey_nps"
    csat_type: str = "survey_csat"
    trend_types: tuple[str, ...] = ("login", "purchase", "support_ticket")
    #: Event types whose occurrence never signals a lower risk: the models are constrained so
    #: that more of them, more recently, never lowers a predicted churn or satisfaction risk.
    risk_types: tuple[str, ...] = ("support_ticket", "complaint", "payment_failed")
    channel_windows: tuple[int, ...] = (30, 90)
    text_window: int = 90
    pii_columns: tuple[str, ...] = DEFAULT_PII_COLUMNS
    #: Columns whose values look like e-mails, phone or card numbers but are not personal data
    #: (training leaves such columns out unless they are named here).
    not_pii: tuple[str, ...] = ()
    #: The business's own event types and channels (docs/taxonomy.md); the built-in ones stay.
    taxonomy: Taxonomy = Taxonomy()
    #: Topics of free text, each with its seed phrases: texts about each are counted
    #: (features/topics.py), e.g. {billing: [bill, invoice, charged]}.
    topics: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: Labelled examples (text, topic), or a CSV file of them: then a classifier learned from
    #: them finds the topics instead of the seed phrases.
    topic_examples: TopicExamples = ()

    @property
    def counted_types(self) -> tuple[str, ...]:
        """The event types counted by name: the built-in ones, then the business's own that
        have no role (those with one count as it)."""
        own = [t for t, k in self.taxonomy.event_types.items() if k.role is None]
        return (*self.event_types, *(t for t in own if t not in self.event_types))

    @property
    def counted_channels(self) -> tuple[str, ...]:
        return (*self.channels, *(c for c in self.taxonomy.channels if c not in self.channels))

    @property
    def type_vocabulary(self) -> tuple[tuple[str, ...], tuple[int, ...]]:
        """(names an event type may have in the data, the position in `counted_types` each
        counts as): the counted types themselves, then the raw names with a role. A role the
        features do not count (cancel) counts as other: position len(counted_types)."""
        counted = self.counted_types
        aliases = self.taxonomy.aliases
        names = (*counted, *aliases)
        other = len(counted)
        where = [counted.index(r) if r in counted else other for r in aliases.values()]
        return names, (*range(other), *where)

    def __post_init__(self) -> None:
        windows = self.windows
        if tuple(sorted(windows)) != windows or len(set(windows)) != len(windows):
            raise ValueError(f"feature windows must be distinct and ascending, got {windows}")
        for window in (*self.channel_windows, self.text_window, 30, 90):
            if window not in windows:
                raise ValueError(f"window {window}d is used but not in windows {windows}")


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


NO_ACTION = "none"  # the "no action" name in an allocation; no catalog action may take it


@with_config(FORBID)
@dataclass(frozen=True)
class Rule:
    """An eligibility condition on one customer column (an attribute, or a feature such as
    customer_value); every condition given must hold. A missing value fails the rule: an offer
    gated on a segment or a minimum value is not sent to a customer whose value is unknown."""

    column: str
    isin: tuple[str, ...] | None = None
    min: float | None = None
    max: float | None = None

    def __post_init__(self) -> None:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(
                f"Rule on {self.column!r}: min {self.min} > max {self.max}, so no customer can "
                "pass; swap the bounds."
            )


@with_config(FORBID)
@dataclass(frozen=True)
class Action:
    """One offer in the catalog: what it costs, who may get it, how often."""

    name: str
    channel: str
    cost: float
    rules: tuple[Rule, ...] = ()
    capacity: int | None = None  # at most this many customers per allocation (None: no limit)
    cooldown_days: int = 0  # no repeat of this offer within D days
    aims_at: str = "churn"  # the outcome whose probability the uplift lowers

    def __post_init__(self) -> None:
        problem = None
        if not self.name or self.name == NO_ACTION:
            problem = f"the name {NO_ACTION!r} (or an empty name) is reserved for 'no action'"
        elif not math.isfinite(self.cost) or self.cost < 0:
            problem = f"cost must be a finite number >= 0, got {self.cost}"
        elif self.capacity is not None and self.capacity < 0:
            problem = f"capacity must be >= 0 or None (no limit), got {self.capacity}"
        elif self.cooldown_days < 0:
            problem = f"cooldown_days must be >= 0, got {self.cooldown_days}"
        if problem:
            raise ValueError(f"Action {self.name!r}: {problem}.")


@with_config(FORBID)
@dataclass(frozen=True)
class ContactPolicy:
    """At most `max_contacts` contacts per channel per customer in any `period_days` window."""

    max_contacts: int
    period_days: int

    def __post_init__(self) -> None:
        if self.max_contacts < 0 or self.period_days < 1:
            raise ValueError(
                f"ContactPolicy needs max_contacts >= 0 and period_days >= 1, got "
                f"{self.max_contacts} and {self.period_days}."
            )


@with_config(FORBID)
@dataclass(frozen=True)
class CustomerValue:
    """Customer value = multiplier x a feature column, e.g. 12 x monthly charge."""

    feature: str
    multiplier: Annotated[float, Field(gt=0)] = 1.0


@with_config(FORBID)
@dataclass(frozen=True)
class ActionsConfig:
    """The action catalog and the rules and budget a next-best-action run allocates under."""

    value: CustomerValue
    catalog: tuple[Action, ...]
    control: str = NO_ACTION  # the log's name for no action
    outcome: Literal["churn"] | tuple[str, ...] = "churn"  # or event types, e.g. [visit]
    horizon_days: Annotated[int, Field(ge=1)] = 90
    learner: Literal["t", "x", "dr", "offset"] = "offset"
    # Learn uplift only from campaign rows whose outcome window holds no other logged action for
    # the customer: elsewhere the outcome mixes two actions' effects, and untreated customers,
    # free to be picked by the next campaign, would lend the control arm part of an effect.
    drop_retreated: bool = True
    budget: Annotated[float, Field(ge=0)] | None = None
    allocation: Literal["greedy", "exact"] = "exact"
    contact: ContactPolicy | None = None

    def __post_init__(self) -> None:
        catalog_names(self.catalog)

    @property
    def names(self) -> list[str]:
        return catalog_names(self.catalog)


def catalog_names(catalog: Sequence[Action]) -> list[str]:
    """The catalog's action names in order; an empty catalog or a repeated name is refused."""
    names = [a.name for a in catalog]
    if not names:
        raise ValueError("The action catalog is empty: add at least one action.")
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"Action names must be unique in the catalog; repeated: {dupes}.")
    return names


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
