"""The feature catalog: each feature's name, family, window and a plain-language template.

Reason codes render the template with the customer's value, e.g. "3 unresolved support tickets
in the last 30 days". Names and catalog entries are made together, so they cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from cxml.features.table import Table


@dataclass(frozen=True)
class FeatureInfo:
    name: str
    family: (
        str  # activity, monetary, recency, trend, channel, support, voice, payment, tenure, profile
    )
    window_days: int | None
    template: str  # str.format with `value`, e.g. "{value:.0f} logins in the last 30 days"
    event_type: str | None = None
    channel: str | None = None
    #: +1: a higher value never lowers a predicted risk, -1: never raises it, 0: either (the
    #: models are constrained so; see FeatureConfig.risk_types)
    direction: int = 0

    def describe(self, value: object) -> str:
        if value is None or (isinstance(value, float) and np.isnan(value)):
            return self.template.split("{")[0].strip() + " unknown"
        try:
            text = self.template.format(value=value)
        except (ValueError, TypeError):
            text = self.template.replace("{value:.0f}", "{value}").format(value=value)
        return one(text) if text.startswith("1 ") else text


@dataclass
class Features(Table):
    """Feature columns in the order they were added, each with its catalog entry."""

    infos: list[FeatureInfo] = field(default_factory=list)

    def add(self, info: FeatureInfo, values: object) -> None:
        self.columns[info.name] = values
        self.infos.append(info)

    def take(self, positions: np.ndarray | slice) -> Features:
        """These rows only (positions, or a slice: views), every column kept."""
        kept = {name: self[name][positions] for name in self.columns}
        return Features(self.index[positions], kept, self.infos)

    @classmethod
    def concat(cls, parts: Iterable[Features], rows: int) -> Features:
        """Blocks of customers' features (each with the same columns), one after the other,
        `rows` in all. Each block is copied into the whole table's columns as it comes, so a
        block can go before the next one is read: the blocks are never all held beside the
        table. A column takes the type `np.concatenate` would give it."""
        columns: dict[str, np.ndarray] = {}
        indexes: list[pd.Index] = []
        infos: list[FeatureInfo] = []
        start = 0
        for part in parts:
            for name in part.columns:
                values, column = part[name], columns.get(name)
                kind = values.dtype if column is None else np.result_type(column, values)
                if column is None or kind != column.dtype:  # first block, or a wider type
                    wider = np.empty(rows, dtype=kind)
                    if column is not None:
                        wider[:start] = column[:start]
                    column = columns[name] = wider
                column[start : start + len(values)] = values
            indexes.append(part.index)
            infos, start = part.infos, start + len(part.index)
        if start != rows:
            raise ValueError(f"the blocks hold {start} rows, not {rows}")
        return cls(indexes[0].append(indexes[1:]), columns, infos)

    def _numeric(self) -> list[str]:
        return [
            k
            for k, v in self.columns.items()
            if isinstance(v, np.ndarray) and v.dtype.kind in "biuf"
        ]

    def names(self) -> list[str]:
        """Column order: the numeric features as added, then the others (profile categories)."""
        numeric = self._numeric()
        is_numeric = set(numeric)
        return numeric + [k for k in self.columns if k not in is_numeric]

    def frame(self) -> pd.DataFrame:
        """One float block for the numeric columns and one object block for the rest, each laid
        out as pandas keeps it, so that even a single customer's row is quick to build."""
        numeric = self._numeric()
        block = np.empty((len(numeric), len(self.index)))
        for j, name in enumerate(numeric):
            block[j] = np.asarray(self.columns[name])
        frame = pd.DataFrame(block.T, index=self.index, columns=numeric, copy=False)
        others = self.names()[len(numeric) :]
        if not others:
            return frame
        objects = np.empty((len(others), len(self.index)), dtype=object)
        for j, name in enumerate(others):
            objects[j] = np.asarray(self.columns[name])
        rest = pd.DataFrame(objects.T, index=self.index, columns=others, copy=False)
        return pd.concat([frame, rest], axis=1, copy=False)

    def frame_with_ids(self, name: str = "customer_id") -> pd.DataFrame:
        """`frame()` with the row labels as its first column, `name`, its rows numbered 0..n-1
        (`frame().reset_index()`): the blocks `frame` lays out, the ids beside them, none of
        them copied again."""
        frame = self.frame()
        frame.insert(0, name, self.index)
        frame.index = pd.RangeIndex(len(frame))
        return frame

    def catalog(self) -> pd.DataFrame:
        infos = {i.name: i for i in self.infos}
        return pd.DataFrame([vars(infos[name]) for name in self.names()]).set_index("name")


def one(text: str) -> str:
    """A count of one reads in the singular: "1 support tickets from ..." -> "1 support ticket
    from ...". The templates put the number first and its noun phrase after it; the phrase's
    plural word is the first ending in a plain "s" (`plural` never makes "ss")."""
    words = text.split(" ")
    for i, word in enumerate(words[1:], start=1):
        if word.endswith("ies") and len(word) > 3:
            words[i] = word[:-3] + "y"
        elif word.endswith("s") and not word.endswith("ss") and word[:-1].islower():
            words[i] = word[:-1]
        else:
            continue
        return " ".join(words)
    return text


def plural(word: str) -> str:
    if word.endswith("s"):
        return word
    if word.endswith("y") and len(word) > 1 and word[-2] not in "aeiou":
        return word[:-1] + "ies"
    return word + "s"


EVENT_WORDS = {
    "purchase": "purchases",
    "login": "logins",
    "usage": "usage sessions",
    "support_ticket": "support tickets",
    "complaint": "complaints",
    "payment_failed": "failed payments",
    "survey_nps": "NPS survey answers",
    "survey_csat": "CSAT survey answers",
    "other": "other interactions",
}


def event_words(event_type: str, display: str | None = None) -> str:
    """How the events of a type are called in a reason: the business's display name (its
    taxonomy) in the plural, else the built-in words, else the type's own name."""
    if display:
        return plural(display)
    return EVENT_WORDS.get(event_type, plural(event_type.replace("_", " ")) + " events")


def family_of(event_type: str) -> str:
    return {
        "support_ticket": "support",
        "complaint": "support",
        "payment_failed": "payment",
        "survey_nps": "voice",
        "survey_csat": "voice",
        "purchase": "monetary",
    }.get(event_type, "activity")
