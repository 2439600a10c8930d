"""Request and response bodies. The schema is the first check of a request (BentoML answers 400
when a body does not match it) and the API's documentation (/docs.json).

The top-level bodies subclass `bentoml.IODescriptor` so BentoML uses them as they are, under
their own names in the OpenAPI document; the parts nested in them are plain pydantic models."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import bentoml
from pydantic import BaseModel, ConfigDict, Field

from cxml.config import KNOWN_CHANNELS, KNOWN_EVENT_TYPES

#: Any name, as in the data: the model's taxonomy says what it counts as, and a type or channel
#: it does not know counts as "other", as in batch scoring (the answer's `notes` say so).
EventType = Annotated[
    str,
    Field(
        min_length=1,
        max_length=100,
        description=f"The business's event type; built in: {', '.join(KNOWN_EVENT_TYPES)}",
    ),
]
Channel = Annotated[
    str,
    Field(
        min_length=1,
        max_length=100,
        description=f"The channel; built in: {', '.join(KNOWN_CHANNELS)}",
    ),
]
AttributeValue = str | int | float | bool | None

_STRICT = ConfigDict(extra="forbid", strict=True)  # JSON strings still parse into datetimes
_AS_OF = "Score as of this time (default: now, UTC)"
_EVENTS = "Interaction history; events at/after as_of are unused"


# ------------------------------------------------------------------------------------ requests
class Customer(BaseModel):
    model_config = _STRICT
    customer_id: str = Field(min_length=1, max_length=256)
    signup_time: datetime | None = Field(None, description="ISO 8601 with a time zone")
    attributes: dict[str, AttributeValue] = Field(
        default_factory=dict,
        max_length=500,
        description="Static attributes the model was trained on (e.g. plan, region); no PII",
    )


class Event(BaseModel):
    model_config = _STRICT
    event_time: datetime = Field(description="ISO 8601 with a time zone, e.g. 2025-06-01T09:30Z")
    event_type: EventType
    channel: Channel | None = None
    value: float | None = Field(None, allow_inf_nan=False)
    text: str | None = Field(None, max_length=10_000)


class CustomerHistory(BaseModel):
    model_config = _STRICT
    customer: Customer
    events: list[Event] = Field(description=_EVENTS)


class PredictRequest(bentoml.IODescriptor):
    model_config = _STRICT
    customer: Customer
    events: list[Event] = Field(description=_EVENTS)
    as_of: datetime | None = Field(None, description=_AS_OF)


class PredictBatchRequest(bentoml.IODescriptor):
    model_config = _STRICT
    customers: list[CustomerHistory] = Field(min_length=1)
    as_of: datetime | None = Field(None, description=_AS_OF)


class PredictByIdRequest(bentoml.IODescriptor):
    model_config = _STRICT
    customer_id: str = Field(min_length=1, max_length=256)
    as_of: datetime | None = Field(None, description=_AS_OF)


# ----------------------------------------------------------------------------------- responses
class Action(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str | None = None
    expected_gain: float | None = None
    #: the 90% interval of expected_gain, where training calibrated the effects on a held-out
    #: campaign (docs/decisions.md)
    gain_low: float | None = None
    gain_high: float | None = None
    cost: float | None = None
    reason: str | None = None
    runner_up: str | None = None


class Prediction(bentoml.IODescriptor):
    model_config = ConfigDict(extra="allow")  # scored columns added later pass through
    customer_id: str
    as_of: datetime
    churn_probability: float
    churn_risk_band: str
    satisfaction_drop_probability: float | None = None
    #: from the time-to-churn model: still a customer 30, 90, 180 and 365 days on, expected
    #: days as one within a year, and the margin expected over the customer value's months
    survival_30d: float | None = None
    survival_90d: float | None = None
    survival_180d: float | None = None
    survival_365d: float | None = None
    expected_tenure_days: float | None = None
    lifetime_value: float | None = None
    reasons: list[str] | None = None
    reason_families: list[str] | None = None
    action: Action | None = None
    #: what the model did not know in the request (an event type or channel outside its
    #: taxonomy, counted as other), in words
    notes: list[str] | None = None
    model_name: str
    model_version: str


class PredictBatchResponse(bentoml.IODescriptor):
    predictions: list[Prediction]
    as_of: datetime
    model_name: str
    model_version: str
