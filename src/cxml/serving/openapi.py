"""The API document the guard serves at /docs.json: BentoML's own (`Service.openapi_spec`, the
public way to get it), corrected to say what this server does.

BentoML 1.4 has no hook for an endpoint's responses or the document's info: it lists 200, 400,
404 and 500 for every endpoint with its own error body (`detail` a string), puts the bento's
version (the text 'None' when served from source) and its boilerplate README in `info`, and
flattens each request schema (losing `as_of: null`). So its document is taken as the base and
the three endpoints are rewritten here: the statuses each one answers (`ENDPOINTS`, described by
`cxml.serving.errors`), the error body, a request example, and request schemas narrowed to what
the loaded model and the settings accept, so that a request this document calls valid is scored
(or, by id, answered 404 or 409) and not refused 422. Only a repeated customer_id in a batch is
beyond what a schema can say."""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from typing import Any

from cxml import __version__
from cxml.data.schema import EVENT_VALUE_RANGES
from cxml.serving.checks import Profile
from cxml.serving.errors import (
    ApiError,
    BadRequest,
    Gone,
    NotFound,
    RequestTimeout,
    TooLarge,
    Unauthorized,
    UnsupportedMediaType,
    Unusable,
)
from cxml.serving.schemas import (
    PredictBatchRequest,
    PredictBatchResponse,
    PredictByIdRequest,
    Prediction,
    PredictRequest,
)
from cxml.serving.settings import Settings

Json = dict[str, Any]
REFUSALS: tuple[type[ApiError], ...] = (
    BadRequest,
    RequestTimeout,
    TooLarge,
    UnsupportedMediaType,
    Unusable,
)
#: Each endpoint: its request and answer schemas and the refusals it may answer with (a 401
#: too when CXML_API_KEY is set).
ENDPOINTS: dict[str, tuple[type, type, tuple[type[ApiError], ...]]] = {
    "/predict": (PredictRequest, Prediction, REFUSALS),
    "/predict_batch": (PredictBatchRequest, PredictBatchResponse, REFUSALS),
    "/predict_by_id": (PredictByIdRequest, Prediction, (*REFUSALS, NotFound, Gone)),
}
DESCRIPTION = """\
Churn risk, satisfaction-drop risk, the reasons behind them in words, and the next best action
for a customer, from a model registered in MLflow. `/predict` scores the profile and events
sent, `/predict_batch` up to CXML_MAX_BATCH such customers at one `as_of`, `/predict_by_id` a
customer of the data dir the server loaded. Only events strictly before `as_of` count.

Every refusal has the body `Error`: `error`, one sentence, and `detail`, one entry per
problem at its field. Answers name the model and version that produced them, in the body and
in the `X-Model-Name` / `X-Model-Version` headers (never to a client without the API key).

Serving {name} version {version}."""
# Years 1900..2199 (the service refuses times outside 1900..2200 UTC; an offset can move a time
# on 1 January 1900 into 1899, which this pattern lets through and the service refuses).
TIME_PATTERN = r"^(19|20|21)\d\d-"
AS_OF = "2025-06-30T00:00:00Z"
EVENTS = [
    {"event_time": "2025-06-01T09:30:00Z", "event_type": "support_ticket", "channel": "app"},
    {"event_time": "2025-06-12T18:02:00Z", "event_type": "survey_nps", "value": 3},
]


def api_document(
    base: Mapping[str, Any], profile: Profile, settings: Settings, model: tuple[str, str]
) -> Json:
    """BentoML's document `base` (`Service.openapi_spec.asdict()`) made this server's."""
    document = copy.deepcopy(dict(base))
    document["openapi"] = "3.1.0"  # pydantic's schemas are JSON Schema 2020-12: {"type": "null"}
    name, version = model
    description = DESCRIPTION.format(name=name, version=version)
    document["info"] = {"title": "cxml", "version": __version__, "description": description}
    schemas = _schemas(document["components"]["schemas"], profile, settings)
    document["components"]["schemas"] = schemas
    auth = settings.api_key is not None
    if auth:
        scheme = {"type": "http", "scheme": "bearer", "description": "CXML_API_KEY"}
        document["components"]["securitySchemes"] = {"bearer": scheme}
    examples = _examples(profile)
    for route, (request, answer, refusals) in ENDPOINTS.items():
        operation = document["paths"][route]["post"]
        operation["requestBody"] = {
            "required": True,
            "content": {
                "application/json": {"schema": _ref(request.__name__), "example": examples[route]}
            },
        }
        kinds: list[type[ApiError]] = [*refusals, *([Unauthorized] if auth else [])]
        kinds.sort(key=lambda kind: kind.status)
        operation["responses"] = {"200": _answer(answer.__name__)} | {
            str(kind.status): _refusal(kind) for kind in kinds
        }
        if auth:
            operation["security"] = [{"bearer": []}]
    return document


def _ref(name: str) -> Json:
    return {"$ref": f"#/components/schemas/{name}"}


def _answer(schema: str) -> Json:
    header = {"required": True, "schema": {"type": "string"}}
    return {
        "description": "Scored: risks, reasons and the next best action",
        "headers": {"X-Model-Name": header, "X-Model-Version": header},
        "content": {"application/json": {"schema": _ref(schema)}},
    }


def _refusal(kind: type[ApiError]) -> Json:
    response: Json = {
        "description": kind.description,
        "content": {"application/json": {"schema": _ref("Error")}},
    }
    if kind is Unauthorized:
        challenge = {"required": True, "schema": {"type": "string", "const": "Bearer"}}
        response["headers"] = {"WWW-Authenticate": challenge}
    return response


def _schemas(schemas: Mapping[str, Json], profile: Profile, settings: Settings) -> Json:
    """The components: BentoML's exception schemas dropped, the error body added, the request
    parts narrowed to what the model and the limits accept."""
    dropped = {"InvalidArgument", "NotFound", "InternalServerError", "TaskStatusResponse"}
    out = {name: schema for name, schema in schemas.items() if name not in dropped}
    _bound_times(out)
    out["Customer"]["properties"]["attributes"] = _attributes(profile)
    out["Event"]["anyOf"] = _event_values()
    for owner in ("PredictRequest", "CustomerHistory"):
        out[owner]["properties"]["events"]["maxItems"] = settings.max_events
    out["PredictBatchRequest"]["properties"]["customers"]["maxItems"] = settings.max_batch
    out["Problem"] = {
        "type": "object",
        "description": "One problem at its field, shaped like pydantic's errors; `loc` is the "
        "path into the body (empty: the request as a whole)",
        "required": ["loc", "msg", "type"],
        "properties": {
            "loc": {"type": "array", "items": {"type": ["string", "integer"]}},
            "msg": {"type": "string"},
            "type": {"type": "string", "description": "what kind of problem, for programs"},
        },
    }
    out["Error"] = {
        "type": "object",
        "description": "A refused request. The model is named to clients with the API key.",
        "required": ["error", "detail"],
        "properties": {
            "error": {"type": "string", "description": "what is wrong, in one sentence"},
            "detail": {"type": "array", "items": _ref("Problem")},
            "model_name": {"type": "string"},
            "model_version": {"type": "string"},
        },
    }
    return out


def _bound_times(node: Any) -> None:
    """Every date-time in the schemas within the years the service accepts."""
    if isinstance(node, dict):
        if node.get("format") == "date-time":
            node["pattern"] = TIME_PATTERN
        for value in node.values():
            _bound_times(value)
    elif isinstance(node, list):
        for value in node:
            _bound_times(value)


def _attributes(profile: Profile) -> Json:
    """The model's own attributes, each a number or one of its known categories (or null)."""
    properties: Json = {}
    for name in profile.names:
        if name in profile.levels:
            properties[name] = {"enum": [*profile.levels[name], None]}
        else:
            properties[name] = {"type": ["number", "null"]}
    return {
        "type": "object",
        "description": "Attributes the model was trained on, any of them (a missing one is "
        "unknown); no PII",
        "properties": properties,
        "additionalProperties": False,
    }


def _event_values() -> list[Json]:
    """An event's value within its type's range (`EVENT_VALUE_RANGES`), one branch a type."""
    ranged = list(EVENT_VALUE_RANGES)  # any other type (the business's own too): any value
    branches: list[Json] = [{"properties": {"event_type": {"not": {"enum": ranged}}}}]
    for event_type, (low, high) in EVENT_VALUE_RANGES.items():
        value: Json = {"type": "number", "minimum": low}
        if math.isfinite(high):
            value["maximum"] = high
        branches.append(
            {
                "properties": {
                    "event_type": {"const": event_type},
                    "value": {"anyOf": [value, {"type": "null"}]},
                }
            }
        )
    return branches


def _examples(profile: Profile) -> dict[str, Json]:
    """A valid request per endpoint; the customer's attributes are this model's (made up)."""
    attributes = {
        name: profile.levels[name][0] if name in profile.levels else 1.0 for name in profile.names
    }
    customer = {"customer_id": "new-1", "signup_time": "2024-02-11T00:00:00Z"}
    customer["attributes"] = attributes  # type: ignore[assignment]
    return {
        "/predict": {"customer": customer, "events": EVENTS, "as_of": AS_OF},
        "/predict_batch": {
            "customers": [
                {"customer": customer, "events": EVENTS},
                {"customer": {"customer_id": "new-2"}, "events": []},
            ],
            "as_of": AS_OF,
        },
        "/predict_by_id": {"customer_id": "C0000042", "as_of": AS_OF},
    }
