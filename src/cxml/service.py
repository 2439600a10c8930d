"""The HTTP face: a BentoML service over `cxml.jobs.score` (the only module importing bentoml).

Endpoints (JSON in, JSON out; every answer names the model version that produced it, in the body
and in the `X-Model-Name` / `X-Model-Version` headers):

- `POST /predict`        one customer's profile and events -> risk, band, reasons, action
- `POST /predict_batch`  up to CXML_MAX_BATCH such customers at one `as_of`, scored in one call
- `POST /predict_by_id`  a customer of the configured data dir, from the history loaded at start
- `GET /livez`, `/healthz`, `/readyz`, `/metrics` (BentoML's; no key needed), `/docs.json`

Configured by environment: CXML_CONFIG (pipeline yaml, default pipelines/demo.yaml),
CXML_MODEL_REF (alias or version, default champion), MLFLOW_TRACKING_URI, CXML_API_KEY (when set,
every other endpoint needs `Authorization: Bearer <key>`), CXML_MAX_BODY_BYTES (default 1 MiB),
CXML_MAX_EVENTS (per customer, default 5000), CXML_MAX_BATCH (default 100).

Status codes: 400 the body does not match the schema (wrong type, missing or unknown field, value
not allowed, malformed JSON); 401 missing or wrong key; 404 unknown customer; 413 body too large;
415 not `application/json`; 422 well-formed but unusable (timestamp without a time zone, too many
events, an attribute the model does not know or a category it never saw, PII). Logs carry method,
path, status and latency only: never a body, a customer id or an attribute.
"""

from __future__ import annotations

import os

# LightGBM's OpenMP threads made one-row predictions 10-100x slower on 2 busy cores; one thread
# per worker is fastest for serving. Must be set before lightgbm is first imported.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import gc
import hmac
import logging
import math
import re
import time
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, cast, get_args

import bentoml
import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cxml.config import load_config
from cxml.data.load import load_data_dir
from cxml.data.schema import EVENT_VALUE_RANGES, KNOWN_CHANNELS, KNOWN_EVENT_TYPES
from cxml.serving.coalesce import Coalescer
from cxml.jobs.score import Scorer, load_scorer
from cxml.models.bundle import ScoringBundle

log = logging.getLogger("cxml.service")
OPEN_PATHS = ("/livez", "/healthz", "/readyz", "/metrics")  # probes, scraping: no key needed
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
NAT = np.iinfo(np.int64).min  # numpy's NaT as int64
MAX_PROBLEMS = 20  # field messages per answer; the rest are counted
#: Routes that build no OpenTelemetry spans unless CXML_TRACING=1. BentoML builds and records a
#: request's spans even with no exporter set up (the default), which took ~10% of the worker's
#: time at /predict (py-spy; 0.7% once excluded). Read at import: the decorator needs it.
SCORING_ROUTES = ("/predict", "/predict_batch", "/predict_by_id")
UNTRACED = [] if os.environ.get("CXML_TRACING") == "1" else list(SCORING_ROUTES)
CALL_SIZE = bentoml.metrics.Histogram(
    name="cxml_predict_call_size",
    documentation="requests scored together in one model call (see serving/coalesce.py)",
    labelnames=["endpoint"],
    buckets=(1, 2, 4, 8, 16, 32, 64, 128),
)

EventType = Literal[
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
Channel = Literal["web", "app", "call_centre", "store", "email", "chat", "social"]
if get_args(EventType) != KNOWN_EVENT_TYPES or get_args(Channel) != KNOWN_CHANNELS:
    raise ImportError("cxml.service: EventType/Channel differ from cxml.data.schema; align them")
AttributeValue = str | int | float | bool | None


@dataclass(frozen=True)
class Settings:
    config: Path
    model_ref: str
    api_key: str | None
    max_body_bytes: int
    max_events: int
    max_batch: int

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        def positive(name: str, default: int) -> int:
            raw = env.get(name, "").strip() or str(default)
            if not raw.isdigit() or int(raw) < 1:
                raise ValueError(f"{name}={raw!r}: expected a positive whole number")
            return int(raw)

        return cls(
            config=Path(env.get("CXML_CONFIG", "").strip() or "pipelines/demo.yaml"),
            model_ref=env.get("CXML_MODEL_REF", "").strip() or "champion",
            api_key=env.get("CXML_API_KEY") or None,
            max_body_bytes=positive("CXML_MAX_BODY_BYTES", 1 << 20),
            max_events=positive("CXML_MAX_EVENTS", 5000),
            max_batch=positive("CXML_MAX_BATCH", 100),
        )


# ----------------------------------------------------------------------------- request schemas
_STRICT = ConfigDict(extra="forbid", strict=True)  # JSON strings still parse into datetimes


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
    events: list[Event] = Field(description="Interaction history; events at/after as_of are unused")


class PredictRequest(bentoml.IODescriptor):
    model_config = _STRICT
    customer: Customer
    events: list[Event] = Field(description="Interaction history; events at/after as_of are unused")
    as_of: datetime | None = Field(None, description="Score as of this time (default: now, UTC)")


class PredictBatchRequest(bentoml.IODescriptor):
    model_config = _STRICT
    customers: list[CustomerHistory] = Field(min_length=1)
    as_of: datetime | None = Field(None, description="Score as of this time (default: now, UTC)")


class PredictByIdRequest(bentoml.IODescriptor):
    model_config = _STRICT
    customer_id: str = Field(min_length=1, max_length=256)
    as_of: datetime | None = Field(None, description="Score as of this time (default: now, UTC)")


# ---------------------------------------------------------------------------- response schemas
class Action(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str | None = None
    expected_gain: float | None = None
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
    reasons: list[str] | None = None
    reason_families: list[str] | None = None
    action: Action | None = None
    model_name: str
    model_version: str


class PredictBatchResponse(bentoml.IODescriptor):
    predictions: list[Prediction]
    as_of: datetime
    model_name: str
    model_version: str


# ------------------------------------------------------------------------------------- checks
Problem = dict[str, Any]  # {"loc": [...], "msg": ..., "type": ...}, like pydantic's errors


def _problem(loc: Sequence[str | int], msg: str, kind: str) -> Problem:
    return {"loc": list(loc), "msg": msg, "type": kind}


def _ns(value: datetime) -> int:
    """Exact UTC nanoseconds since the epoch (float seconds would lose the microseconds)."""
    delta = value - EPOCH
    return ((delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds) * 1_000


EARLIEST_NS = _ns(datetime(1900, 1, 1, tzinfo=UTC))
LATEST_NS = _ns(datetime(2200, 1, 1, tzinfo=UTC))


def _time_problem(value: datetime | None, loc: Sequence[str | int]) -> Problem | None:
    fault = None if value is None else _time_fault(value)
    return None if fault is None else _problem(loc, *fault)


def _time_fault(value: datetime) -> tuple[str, str] | None:
    """What is wrong with a timestamp, (message, type), or None: apart from the problem's
    location, which a request's hundred good event times need not build."""
    if value.tzinfo is None or value.utcoffset() is None:
        msg = "timestamp without a time zone: add one, e.g. 2025-06-30T00:00:00Z or +02:00"
        return msg, "timezone_required"
    if not EARLIEST_NS <= _ns(value) < LATEST_NS:  # as integers: comparing times took 2x longer
        return "timestamp outside 1900..2200", "timestamp_out_of_range"
    return None


def _show(value: object, limit: int = 60) -> str:
    """A value quoted back to the client, cut short (it may be long)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _finite_number(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False  # JSON true/false is not a number here
    try:
        return math.isfinite(float(value))
    except OverflowError:  # an integer beyond float range
        return False


@dataclass(frozen=True)
class Profile:
    """What the model knows about customer attributes: names, and the levels of text ones, each
    in the model's column order (features built in that order need no reordering: 0.3 ms)."""

    numeric: tuple[str, ...]
    levels: dict[str, tuple[str, ...]]
    pii: frozenset[str]

    @classmethod
    def of(cls, bundle: ScoringBundle, pii_columns: Sequence[str]) -> Profile:
        names = [c.removeprefix("profile_") for c in bundle.feature_names if c[:8] == "profile_"]
        known = bundle.encoder.levels_
        levels = {n: tuple(known[f"profile_{n}"]) for n in names if f"profile_{n}" in known}
        pii = frozenset(str(c).strip().lower() for c in pii_columns)
        return cls(tuple(n for n in names if n not in levels), levels, pii)

    @property
    def names(self) -> list[str]:
        return sorted([*self.numeric, *self.levels])

    def problems(
        self, attributes: dict[str, AttributeValue], loc: list[str | int]
    ) -> list[Problem]:
        found = []
        for name, value in attributes.items():
            at = [*loc, name]
            if name.strip().lower() in self.pii:
                msg = f"{_show(name)} is personal data: do not send PII; the model does not use it"
                found.append(_problem(at, msg, "pii_refused"))
            elif name in self.levels:
                allowed = self.levels[name]
                if value is not None and (not isinstance(value, str) or value not in allowed):
                    known = ", ".join(allowed)
                    msg = f"{_show(value)} is not a known {name}; allowed: {known} or null"
                    found.append(_problem(at, msg, "unknown_category"))
            elif name in self.numeric:
                if value is not None and not _finite_number(value):
                    msg = (
                        f"{name}: send a finite number or null (0/1 for flags), not {_show(value)}"
                    )
                    found.append(_problem(at, msg, "number_expected"))
            else:
                expected = ", ".join(self.names) or "none"
                msg = f"unknown attribute {_show(name)}: this model expects {expected}"
                found.append(_problem(at, msg, "unknown_attribute"))
        return found


def _event_problems(events: list[Event], limit: int, loc: list[str | int]) -> list[Problem]:
    if len(events) > limit:
        msg = f"{len(events)} events; at most {limit} per customer (send the most recent ones)"
        return [_problem(loc, msg, "too_many_events")]
    found = []
    for i, event in enumerate(events):
        if (fault := _time_fault(event.event_time)) is not None:
            found.append(_problem([*loc, i, "event_time"], *fault))
        bounds = EVENT_VALUE_RANGES.get(event.event_type)
        if bounds and event.value is not None and not bounds[0] <= event.value <= bounds[1]:
            low, high = bounds
            limit_text = f"{low:g}..{high:g}" if math.isfinite(high) else f">= {low:g}"
            msg = f"value {event.value:g} outside {limit_text} for {event.event_type}"
            found.append(_problem([*loc, i, "value"], msg, "value_out_of_range"))
    return found


# ------------------------------------------------------------------------------ tables, answers
def _utc(ns: list[int]) -> pd.DatetimeIndex:
    """UTC timestamps from nanoseconds (NAT: missing), read as epoch nanoseconds in UTC: for a
    request's 100 times, 21 µs against 36 µs for localizing naive ones."""
    return pd.DatetimeIndex(np.array(ns, dtype=np.int64), tz="UTC")


def tables(
    items: Sequence[tuple[Customer, Sequence[Event]]],
    profile: Profile,
    ids: Sequence[str] | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(events, customers) in the data contract's shape, as their columns' arrays (what the
    features read; a frame of a request's rows cost more to make than to read), built without
    per-row pandas objects; attributes the request left out are missing values. `ids` replace
    the customer ids sent (coalesced requests may name the same customer)."""
    ids = [customer.customer_id for customer, _ in items] if ids is None else list(ids)
    signup = [customer.signup_time for customer, _ in items]
    customers: dict[str, Any] = {
        "customer_id": np.array(ids, dtype=object),
        "signup_time": _utc([_ns(s) if s else NAT for s in signup]),
    }
    for name in profile.numeric:
        values = [customer.attributes.get(name) for customer, _ in items]
        customers[name] = np.array([np.nan if v is None else v for v in values], dtype=float)
    for name in profile.levels:
        customers[name] = np.array([c.attributes.get(name) for c, _ in items], dtype=object)
    history = [event for _, events in items for event in events]
    owner = np.repeat(np.array(ids, dtype=object), [len(events) for _, events in items])
    events = {
        "customer_id": owner,
        "event_time": _utc([_ns(e.event_time) for e in history]),
        "event_type": np.array([e.event_type for e in history], dtype=object),
        "channel": np.array([e.channel for e in history], dtype=object),
        "value": np.array([np.nan if e.value is None else e.value for e in history]),
        "text": np.array([e.text for e in history], dtype=object),
    }
    return events, customers


def _plain(value: Any) -> Any:
    """A JSON-safe Python value: numpy scalars unwrapped, NaN/NaT to null, times to ISO text,
    containers converted item by item."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or value is pd.NaT or (isinstance(value, float) and not math.isfinite(value)):
        return None
    if isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [_plain(v) for v in value]
    return str(value)


_LISTED = re.compile(r"(reason|reason_family)_(\d+)")  # reason_1.. -> reasons: [...]
_LISTS = {"reason": "reasons", "reason_family": "reason_families"}
_DROPPED = {"cutoff", "churn_rank"}  # as_of says the cutoff; a rank needs a whole list
_TEXT = {"customer_id", "model_name", "model_version"}


def answer(row: dict[str, Any], as_of: datetime) -> Prediction:
    """One scored row as the response: numbered reason columns as lists (blanks dropped), the
    action columns as one object, any other column passed through JSON-safe."""
    out: dict[str, Any] = {"as_of": as_of}
    listed: dict[str, list[tuple[int, Any]]] = {}
    action: dict[str, Any] = {}
    for key, value in row.items():
        key = str(key)
        if key in _DROPPED:
            continue
        if key in _TEXT:
            out[key] = str(value)
        elif m := _LISTED.fullmatch(key):
            listed.setdefault(_LISTS[m.group(1)], []).append((int(m.group(2)), _plain(value)))
        elif key == "action":
            action["name"] = _plain(value)
        elif key.startswith("action_"):
            action[key.removeprefix("action_")] = _plain(value)
        elif key == "runner_up_action":
            action["runner_up"] = _plain(value)
        elif key.startswith("runner_up_"):
            action[key] = _plain(value)
        else:
            out[key] = _plain(value)
    for name, items in listed.items():
        out[name] = [str(v) for _, v in sorted(items) if v not in (None, "")]
    if "name" in action:
        out["action"] = Action(**action)
    return Prediction(**out)


class _ByCustomer:
    """A table sorted by customer, each customer's rows found by slicing (no per-call search)."""

    def __init__(self, frame: pd.DataFrame) -> None:
        ids = frame["customer_id"].astype(str).to_numpy(dtype=object)
        order = np.argsort(ids, kind="stable")
        self.frame = frame.iloc[order].reset_index(drop=True)
        self.frame["customer_id"] = ids[order]  # plain strings: no per-call category lookups
        found, starts = np.unique(ids[order], return_index=True)
        ends = np.append(starts[1:], len(ids))
        self.bounds = {
            str(c): (int(a), int(b)) for c, a, b in zip(found, starts, ends, strict=True)
        }

    def rows(self, customer_id: str) -> pd.DataFrame:
        start, stop = self.bounds.get(customer_id, (0, 0))
        return self.frame.iloc[start:stop]


@dataclass(frozen=True)
class Found:
    events: pd.DataFrame
    customers: pd.DataFrame
    actions: pd.DataFrame | None  # what was done to the customer: cooldowns and contact caps


class History:
    """The configured data dir in memory, PII columns dropped, looked up by customer."""

    def __init__(self, tables: dict[str, pd.DataFrame], pii: frozenset[str]) -> None:
        customers = tables["customers"]
        keep = [c for c in customers.columns if str(c).strip().lower() not in pii]
        self.customers = customers[keep].reset_index(drop=True)
        self.customers["customer_id"] = self.customers["customer_id"].astype(str).astype(object)
        self.rows = {cid: i for i, cid in enumerate(self.customers["customer_id"])}
        self.events = _ByCustomer(tables["events"])
        self.actions = _ByCustomer(tables["actions"]) if "actions" in tables else None

    @classmethod
    def load(cls, data_dir: Path, pii_columns: Sequence[str]) -> History:
        tables = load_data_dir(data_dir, tuple(pii_columns)).tables
        return cls(tables, frozenset(str(c).strip().lower() for c in pii_columns))

    def find(self, customer_ids: Sequence[str]) -> Found:
        """The rows of these customers (all known), one frame per table."""
        rows = [self.rows[cid] for cid in customer_ids]
        actions = None if self.actions is None else _joined(self.actions, customer_ids)
        return Found(_joined(self.events, customer_ids), self.customers.iloc[rows], actions)


def _joined(table: _ByCustomer, customer_ids: Sequence[str]) -> pd.DataFrame:
    parts = [table.rows(cid) for cid in customer_ids]
    return parts[0] if len(parts) == 1 else pd.concat(parts)


# ------------------------------------------------------------------------- middleware, logging
_MODEL_HEADERS: list[tuple[bytes, bytes]] = []  # filled once the model is loaded


def _refusal(status: int, msg: str, kind: str, headers: dict[str, str] | None = None) -> Response:
    names = dict(_MODEL_HEADERS)
    body = {
        "error": msg,
        "detail": [_problem([], msg, kind)],
        "model_name": names.get(b"x-model-name", b"").decode() or None,
        "model_version": names.get(b"x-model-version", b"").decode() or None,
    }
    return JSONResponse(body, status_code=status, headers=headers)


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body read by the guard, handed on once; later calls (disconnects) go to the client."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


class Guard:
    """ASGI middleware for what BentoML 1.4 lacks: the API key, a body size limit, the JSON
    content type, model headers on every response, and an access log with method, path, status
    and latency only (no client address, query, body or customer id)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        settings = Settings.from_env()
        self.key = settings.api_key.encode() if settings.api_key else None
        self.max_body = settings.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 0

        async def send_with_model(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", []), *_MODEL_HEADERS]}
            await send(message)

        try:
            refusal = self._check_headers(scope)
            if refusal is None and scope["method"] == "POST":
                body, refusal = await self._read_body(receive)
                receive = _replay(body, receive)
            await (refusal or self.app)(scope, receive, send_with_model)
        finally:
            elapsed = (time.perf_counter() - started) * 1e3
            log.info("%s %s %d %.1fms", scope["method"], scope["path"], status, elapsed)

    def _check_headers(self, scope: Scope) -> Response | None:
        headers = dict(scope["headers"])
        if self.key is not None and scope["path"] not in OPEN_PATHS:
            scheme, _, token = headers.get(b"authorization", b"").partition(b" ")
            if not (scheme.lower() == b"bearer" and hmac.compare_digest(token.strip(), self.key)):
                msg = "missing or wrong API key: send the header 'Authorization: Bearer <key>'"
                return _refusal(401, msg, "unauthorized", {"WWW-Authenticate": "Bearer"})
        if scope["method"] != "POST":
            return None
        media = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if media != b"application/json":
            msg = "send the body as JSON with the header 'Content-Type: application/json'"
            return _refusal(415, msg, "unsupported_media_type")
        length = headers.get(b"content-length", b"0").strip()
        if not length.isdigit():
            return _refusal(400, "Content-Length is not a whole number", "bad_content_length")
        if int(length) > self.max_body:
            return self._too_large()
        return None

    async def _read_body(self, receive: Receive) -> tuple[bytes, Response | None]:
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return b"", _refusal(400, "the client went away mid-request", "disconnected")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                return b"", self._too_large()
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks), None

    def _too_large(self) -> Response:
        msg = (
            f"body over {self.max_body:,} bytes (CXML_MAX_BODY_BYTES): send fewer events or "
            "customers per request"
        )
        return _refusal(413, msg, "body_too_large")


class _NoRequestContent(logging.Filter):
    """BentoML logs a traceback when a request fails; pydantic's message quotes the values sent,
    which may be personal data. Drop bad-body records; of others keep type and frames only."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            kind, _, tb = record.exc_info
            name = kind.__name__ if kind is not None else "error"
            if name == "ValidationError":  # a client's bad body: the access log has the 400
                return False
            text = "".join(traceback.format_tb(tb))
            record.msg = f"{record.getMessage()}: {name} (message withheld)\n{text}".rstrip()
            record.args, record.exc_info, record.exc_text = None, None, None
        return True


# -------------------------------------------------------------------------------- the service
EXPLAIN_TOP = None  # Scorer.score: None = reasons for every customer (all of a request)


@bentoml.service(
    name="cxml",
    logging={"access": {"enabled": False}},
    traffic={"timeout": 30},
    tracing={"excluded_urls": UNTRACED},
)
class CxmlService:
    """Loads the registered model (and the data dir's history, if there is one) once at start."""

    def __init__(self) -> None:
        logging.getLogger("bentoml._internal.server.http_app").addFilter(_NoRequestContent())
        log.setLevel(logging.INFO)
        self.settings = Settings.from_env()
        config = load_config(self.settings.config)
        self.scorer: Scorer = load_scorer(config.tracking.model_name, self.settings.model_ref)
        self.profile = Profile.of(self.scorer.bundle, config.features.pii_columns)
        data_dir = config.data.dir
        self.history: History | None = None
        if any(data_dir.glob("customers.*")):
            self.history = History.load(data_dir, config.features.pii_columns)
        name, version = self.scorer.model_name, self.scorer.model_version
        _MODEL_HEADERS[:] = [
            (b"x-model-name", name.encode()),
            (b"x-model-version", version.encode()),
        ]
        self.coalescer = Coalescer(self._score_at, self.settings.max_batch)
        self.known = Coalescer(self._score_known_at, self.settings.max_batch)
        known = "no data dir" if self.history is None else f"{len(self.history.rows):,} customers"
        log.info("serving %s v%s (%s for /predict_by_id)", name, version, known)
        gc.collect()
        gc.freeze()  # the model and history live as long as the server: keep them out of GC passes
        self.ready = True

    def __is_ready__(self) -> bool:
        return getattr(self, "ready", False)

    # The methods are `async` though they compute: BentoML runs a plain `def` in a thread, and
    # handing the GIL between that thread and the event loop cost ~10% in latency and req/s
    # here. /predict and /predict_by_id requests that queue while the model is busy share its
    # next call (a Coalescer): ~0.6 ms each in a call of 8 against ~3 ms alone. BentoML's
    # adaptive batching (batchable=True) made this model slower (DESIGN §6).
    @bentoml.api(route="/predict", input_spec=PredictRequest, output_spec=Prediction)
    async def predict(
        self, customer: Customer, events: list[Event], as_of: datetime | None = None
    ) -> Prediction | Response:
        """Score one customer from the profile and events sent. As in training, only events
        strictly before `as_of` count: later ones are accepted and ignored."""
        problems = self._problems([(customer, events)], as_of, [[]])
        if problems:
            return self._reject(problems)
        return await self.coalescer.submit(as_of, (customer, events))  # None: now, when scored

    @bentoml.api(
        route="/predict_batch", input_spec=PredictBatchRequest, output_spec=PredictBatchResponse
    )
    async def predict_batch(
        self, customers: list[CustomerHistory], as_of: datetime | None = None
    ) -> PredictBatchResponse | Response:
        """Score up to CXML_MAX_BATCH customers at one `as_of`, in one call of the model."""
        if len(customers) > self.settings.max_batch:
            msg = f"{len(customers)} customers; at most {self.settings.max_batch} per request"
            return self._reject([_problem(["customers"], msg, "too_many_customers")])
        items = [(c.customer, c.events) for c in customers]
        problems = self._problems(items, as_of, [["customers", i] for i in range(len(items))])
        seen: set[str] = set()
        for i, (customer, _) in enumerate(items):
            if customer.customer_id in seen:
                loc: list[str | int] = ["customers", i, "customer", "customer_id"]
                problems.append(_problem(loc, "customer_id repeated in the batch", "duplicate"))
            seen.add(customer.customer_id)
        if problems:
            return self._reject(problems)
        at = self._at(as_of)
        return PredictBatchResponse(
            predictions=self._score(items, at),
            as_of=at,
            model_name=self.scorer.model_name,
            model_version=self.scorer.model_version,
        )

    @bentoml.api(route="/predict_by_id", input_spec=PredictByIdRequest, output_spec=Prediction)
    async def predict_by_id(
        self, customer_id: str, as_of: datetime | None = None
    ) -> Prediction | Response:
        """Score a customer of the configured data dir from the history loaded at start-up."""
        if (bad := _time_problem(as_of, ["as_of"])) is not None:
            return self._reject([bad])
        if self.history is None:
            msg = "this server loaded no customer history (no data dir): use /predict"
            return self._reject([_problem(["customer_id"], msg, "no_history")], 404)
        if customer_id not in self.history.rows:
            msg = "unknown customer_id: not in the data dir this server loaded"
            return self._reject([_problem(["customer_id"], msg, "unknown_customer")], 404)
        return await self.known.submit(as_of, customer_id)  # None: now, when scored

    def _problems(
        self,
        items: Sequence[tuple[Customer, Sequence[Event]]],
        as_of: datetime | None,
        locs: Sequence[list[str | int]],
    ) -> list[Problem]:
        found = [p for p in [_time_problem(as_of, ["as_of"])] if p is not None]
        for (customer, events), loc in zip(items, locs, strict=True):
            signup = _time_problem(customer.signup_time, [*loc, "customer", "signup_time"])
            found += [signup] if signup is not None else []
            found += self.profile.problems(customer.attributes, [*loc, "customer", "attributes"])
            found += _event_problems(list(events), self.settings.max_events, [*loc, "events"])
        return found

    def _score_at(
        self, as_of: datetime | None, items: list[tuple[Customer, list[Event]]]
    ) -> list[Prediction]:
        CALL_SIZE.labels(endpoint="/predict").observe(len(items))
        return self._score(items, self._at(as_of))

    def _score_known_at(self, as_of: datetime | None, customer_ids: list[str]) -> list[Prediction]:
        """Customers of the loaded history, each once (one asked for twice at once shares an
        answer: same history, same time)."""
        CALL_SIZE.labels(endpoint="/predict_by_id").observe(len(customer_ids))
        assert self.history is not None
        at = self._at(as_of)
        found = self.history.find(list(dict.fromkeys(customer_ids)))
        scored = self.scorer.score_rows(
            found.events,
            found.customers,
            pd.Timestamp(at),
            explain_top=EXPLAIN_TOP,
            actions_log=found.actions,
        )
        rows = {str(row["customer_id"]): row for row in scored}
        return [answer(rows[cid], at) for cid in customer_ids]

    def _score(
        self, items: Sequence[tuple[Customer, Sequence[Event]]], at: datetime
    ) -> list[Prediction]:
        """Each item scored as its own customer, under its place in `items` as id: requests
        coalesced into one call may name the same customer with different histories."""
        places = [str(i) for i in range(len(items))]
        events, customers = tables(items, self.profile, places)
        scored = self.scorer.score_rows(events, customers, pd.Timestamp(at), EXPLAIN_TOP)
        rows = {str(row["customer_id"]): row for row in scored}
        return [
            answer(rows[place] | {"customer_id": customer.customer_id}, at)
            for place, (customer, _) in zip(places, items, strict=True)
        ]

    @staticmethod
    def _at(as_of: datetime | None) -> datetime:
        return datetime.now(UTC) if as_of is None else as_of.astimezone(UTC)

    def _reject(self, problems: list[Problem], status: int = 422) -> Response:
        shown = problems[:MAX_PROBLEMS]
        more = f" (first {MAX_PROBLEMS} shown)" if len(problems) > MAX_PROBLEMS else ""
        body = {
            "error": f"{len(problems)} problem(s) in the request{more}: {shown[0]['msg']}",
            "detail": shown,
            "model_name": self.scorer.model_name,
            "model_version": self.scorer.model_version,
        }
        return JSONResponse(body, status_code=status)


# mypy does not see class decorators' return types: CxmlService is a bentoml.Service here.
cast("bentoml.Service[CxmlService]", CxmlService).add_asgi_middleware(Guard)
