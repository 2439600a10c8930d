"""Next-best-action settings: the action catalog, who may get each action, how often, what a
customer is worth, and the budget a run allocates under."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import Field, with_config

from cxml.config.base import FORBID

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
    """What keeping a customer is worth, the amount an action's uplift is multiplied by.

    `rule: fixed`: multiplier x a feature column, e.g. 12 x monthly charge, the same for
    every customer with that charge. `rule: lifetime`: `margin` of that column for each of the
    next `multiplier` months (at most the year the survival model sees) the customer is
    expected to stay once past the action's horizon, read off their time-to-churn curve and
    discounted at `yearly_discount`: a save whose customer would leave soon after is worth
    less. The list's lifetime_value is the same sum from the cutoff, whatever the rule."""

    feature: str
    multiplier: Annotated[float, Field(gt=0)] = 1.0
    margin: Annotated[float, Field(ge=0, le=1)] = 1.0
    yearly_discount: Annotated[float, Field(ge=0, lt=1)] = 0.0
    rule: Literal["fixed", "lifetime"] = "fixed"


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
    # How far back the uplift model sees each customer's own contacts: per action, the days
    # since the customer last got it (actions/history.py `contact_features`), e.g. 182. An
    # action that worked a few weeks ago may leave little for a second one to do. Off (0) by
    # default: on a small base the four extra inputs can tip a near-zero estimate below an
    # action's cost (docs/decisions.md).
    contact_history_days: Annotated[int, Field(ge=0)] = 0
    budget: Annotated[float, Field(ge=0)] | None = None
    allocation: Literal["greedy", "exact"] = "exact"
    contact: ContactPolicy | None = None
    #: Written before every amount of money the report and the page show, e.g. "€" or "USD "
    currency: Annotated[str, Field(max_length=8)] = ""

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
