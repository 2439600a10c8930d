"""Feature settings: windows, the event types and channels counted by name, the business's
taxonomy of them, and topics of free text."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal, get_args

from pydantic import BeforeValidator, with_config

from cxml.config.base import FORBID

#: The event types with a meaning for features and labels (a business's own names take one of
#: these as their role, docs/taxonomy.md); any other type is counted generically.
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
KNOWN_EVENT_TYPES: tuple[str, ...] = get_args(Role)

#: Touchpoints the simulator and importers use; other channel names are allowed.
KNOWN_CHANNELS = ("web", "app", "call_centre", "store", "email", "chat", "social")

#: Column names treated as PII unless a pipeline config says otherwise.
DEFAULT_PII_COLUMNS = ("name", "email", "phone", "address", "postcode", "date_of_birth")


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
    """Labelled topic examples: as given, or read from a CSV file of `text,topic` rows. A row
    without a text or a topic stops the load with its line: no example is silently dropped."""
    if not isinstance(value, str | Path):
        return value
    import csv

    path = Path(value)
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            rows = [(r["text"], r["topic"]) for r in csv.DictReader(handle)]
    except (OSError, KeyError, UnicodeDecodeError, csv.Error) as exc:
        raise ValueError(
            f"{path}: cannot read labelled topic examples ({exc}); give a UTF-8 CSV with "
            "columns text,topic"
        ) from None
    for line, (text, topic) in enumerate(rows, start=2):
        if not (text or "").strip() or not (topic or "").strip():
            raise ValueError(
                f"{path}: line {line} has no text or no topic; give both, or remove the row"
            )
    return tuple((text, topic.strip()) for text, topic in rows)


TopicExamples = Annotated[tuple[tuple[str, str], ...], BeforeValidator(_examples)]


@with_config(FORBID)
@dataclass(frozen=True)
class TopicWeights:
    """A topic classifier fitted from labelled examples (features/topics.py), as plain data: the
    character n-grams it reads with their inverse document frequencies, and per topic a weight
    per n-gram and an intercept. A model keeps this instead of the examples, which are customer
    text, and the endpoint reads texts with it exactly as training did."""

    topics: tuple[str, ...]
    ngrams: tuple[str, ...]
    idf: tuple[float, ...]
    coef: tuple[tuple[float, ...], ...]  # one row per topic (a single row: two topics)
    intercept: tuple[float, ...]


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
    #: them (and the seed phrases) finds the topics instead of the seed phrases alone.
    topic_examples: TopicExamples = ()
    #: That classifier once fitted, which a trained model keeps instead of the examples.
    topic_model: TopicWeights | None = None

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
