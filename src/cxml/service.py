"""The HTTP face: a BentoML service over `cxml.scoring`, built from the parts in
`cxml.serving` (only this module and `cxml.serving.schemas` import bentoml).

Endpoints (JSON in, JSON out; every answer names the model version that produced it, in the body
and in the `X-Model-Name` / `X-Model-Version` headers, to a client with the key):

- `POST /predict`        one customer's profile and events -> risk, band, reasons, action
- `POST /predict_batch`  up to CXML_MAX_BATCH such customers at one `as_of`, scored in one call
- `POST /predict_by_id`  a customer of the configured data dir, from the history loaded at start
- `GET /livez`, `/healthz`, `/readyz`, `/metrics` (BentoML's; no key needed)
- `GET /docs.json`         the OpenAPI document (`cxml.serving.openapi`)
- `GET /ui`               the team's page over the scored list in CXML_SCORED (`cxml.serving.ui`)

Configured by environment (`cxml.serving.settings`): CXML_CONFIG (pipeline yaml, default
pipelines/demo.yaml), CXML_MODEL_REF (alias or version, default champion), MLFLOW_TRACKING_URI,
CXML_API_KEY (when set, every other endpoint needs `Authorization: Bearer <key>`),
CXML_MAX_BODY_BYTES (default 1 MiB), CXML_MAX_EVENTS (per customer, default 5000),
CXML_MAX_BATCH (default 100), CXML_HEADER_TIMEOUT and CXML_BODY_TIMEOUT (seconds for a
request's headers, default 10, and then its body, default 20), CXML_SCORED (a `cxml score --out`
folder for the page at /ui).

Status codes (`cxml.serving.errors`): 400 the body does not match the schema (wrong type,
missing or unknown field, value not allowed, malformed JSON); 401 missing or wrong key; 404
unknown customer; 405 wrong method; 408 the request did not arrive in time; 409 a customer who
has left; 413 body too large; 415 not `application/json`; 422 well-formed but unusable
(timestamp without a time zone, too many events, an attribute the model does not know or a
category it never saw, PII). Logs carry method, path, status and latency only: never a body, a
customer id or an attribute.
"""

from __future__ import annotations

import os

# LightGBM's OpenMP threads made one-row predictions many times slower on 2 busy cores; one
# thread per worker is fastest for serving. Must be set before lightgbm is first imported.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import gc
import logging
from datetime import UTC, datetime
from typing import cast

import bentoml
from starlette.responses import Response

from cxml.config import load_config
from cxml.jobs.score import load_scorer
from cxml.scoring import Scorer, outside_population
from cxml.serving.checks import Checks, Items, Profile
from cxml.serving.coalesce import Coalescer
from cxml.serving.deadline import use_header_deadline
from cxml.serving.errors import ApiError, Gone, NotFound, Problem, Unusable, problem
from cxml.serving.guard import Guard, announce_model, keep_request_content_out_of_logs
from cxml.serving.history import History
from cxml.serving.openapi import api_document
from cxml.serving.schemas import (
    Customer,
    CustomerHistory,
    Event,
    PredictBatchRequest,
    PredictBatchResponse,
    PredictByIdRequest,
    Prediction,
    PredictRequest,
)
from cxml.serving.sent import SentEvents
from cxml.serving.settings import REQUEST_TIMEOUT, Settings
from cxml.serving.tables import answer, scored_rows, tables, unknown_touchpoints
from cxml.serving.ui import UiData, ui_app

log = logging.getLogger("cxml.service")
#: Routes that build no OpenTelemetry spans unless CXML_TRACING=1. BentoML builds and records a
#: request's spans even with no exporter set up (the default), a visible share of the worker's
#: time at /predict in a py-spy profile. Read at import: the decorator needs it.
SCORING_ROUTES = ("/predict", "/predict_batch", "/predict_by_id")
UNTRACED = [] if os.environ.get("CXML_TRACING") == "1" else list(SCORING_ROUTES)
CALL_SIZE = bentoml.metrics.Histogram(
    name="cxml_predict_call_size",
    documentation="requests scored together in one model call (see serving/coalesce.py)",
    labelnames=["endpoint"],
    buckets=(1, 2, 4, 8, 16, 32, 64, 128),
)
GC_YOUNG_THRESHOLD = 10_000  # allocations between young-generation GC passes (CPython: 700)
EXPLAIN_TOP = None  # Scorer.score: None = reasons for every customer (all of a request)
# Before BentoML's worker builds its uvicorn server, which it does after importing this module.
use_header_deadline(Settings.from_env().header_timeout)


@bentoml.service(
    name="cxml",
    logging={"access": {"enabled": False}},
    traffic={"timeout": REQUEST_TIMEOUT},
    tracing={"excluded_urls": UNTRACED},
)
class CxmlService:
    """Loads the registered model (and the data dir's history, if there is one) once at start."""

    def __init__(self) -> None:
        keep_request_content_out_of_logs()
        log.setLevel(logging.INFO)
        self.settings = Settings.from_env()
        config = load_config(self.settings.config)
        self.scorer: Scorer = load_scorer(config.tracking.model_name, self.settings.model_ref)
        self.scorer.prepare()
        self.profile = Profile.of(self.scorer.bundle, config.features.pii_columns)
        self.checks = Checks(self.profile, self.settings.max_events, self.settings.max_batch)
        data_dir = config.data.dir
        self.history: History | None = None
        if any(data_dir.glob("customers.*")):
            self.history = History.load(data_dir, config.features.pii_columns)
        name, version = self.scorer.model_name, self.scorer.model_version
        spec = cast("bentoml.Service[CxmlService]", CxmlService).openapi_spec.asdict()
        announce_model(
            name, version, api_document(spec, self.profile, self.settings, (name, version))
        )
        self.ui: UiData | None = None  # the team's page at /ui (serving/ui.py)
        if self.settings.scored is not None:
            self.ui = UiData.load(self.settings.scored, config, self.history)
        self.coalescer = Coalescer(self._score_at, self.settings.max_batch)
        self.known = Coalescer(self._score_known_at, self.settings.max_batch)
        known = "no data dir" if self.history is None else f"{len(self.history.rows):,} customers"
        log.info("serving %s v%s (%s for /predict_by_id)", name, version, known)
        gc.collect()
        gc.freeze()  # the model and history live as long as the server: keep them out of GC passes
        # A request makes a few hundred short-lived objects (its parsed events, their arrays):
        # a young-generation pass every 700 allocations ran several times per request.
        gc.set_threshold(GC_YOUNG_THRESHOLD, 20, 20)
        self.ready = True

    def __is_ready__(self) -> bool:
        return getattr(self, "ready", False)

    # The methods are `async` though they compute: BentoML runs a plain `def` in a thread, and
    # handing the GIL between that thread and the event loop cost latency and req/s here.
    # /predict and /predict_by_id requests that queue while the model is busy share its next
    # call (a Coalescer): per-call overhead dominates a call for one customer. BentoML's
    # adaptive batching (batchable=True) made this model slower.
    @bentoml.api(route="/predict", input_spec=PredictRequest, output_spec=Prediction)
    async def predict(
        self, customer: Customer, events: list[Event], as_of: datetime | None = None
    ) -> Prediction | Response:
        """Score one customer from the profile and events sent. As in training, only events
        strictly before `as_of` count: later ones are accepted and ignored."""
        sent = SentEvents.of(events)
        if problems := self.checks.predict(customer, sent, as_of):
            return self._refuse(Unusable(problems))
        return await self.coalescer.submit(as_of, (customer, sent))  # None: now, when scored

    @bentoml.api(
        route="/predict_batch", input_spec=PredictBatchRequest, output_spec=PredictBatchResponse
    )
    async def predict_batch(
        self, customers: list[CustomerHistory], as_of: datetime | None = None
    ) -> PredictBatchResponse | Response:
        """Score up to CXML_MAX_BATCH customers at one `as_of`, in one call of the model."""
        items = [(c.customer, SentEvents.of(c.events)) for c in customers]
        if problems := self.checks.batch(items, as_of):
            return self._refuse(Unusable(problems))
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
        if problems := self.checks.as_of(as_of):
            return self._refuse(Unusable(problems))
        if (unknown := self._unknown(customer_id)) is not None:
            return self._refuse(NotFound([unknown]))
        answered = await self.known.submit(as_of, customer_id)  # None: now, when scored
        return self._refuse(answered) if isinstance(answered, Gone) else answered

    def _unknown(self, customer_id: str) -> Problem | None:
        """Why this server cannot score the customer by id, or None: it can."""
        if self.history is None:
            msg = "this server loaded no customer history (no data dir): use /predict"
            return problem(["customer_id"], msg, "no_history")
        if customer_id not in self.history.rows:
            msg = "unknown customer_id: not in the data dir this server loaded"
            return problem(["customer_id"], msg, "unknown_customer")
        return None

    def _score_at(
        self, as_of: datetime | None, items: list[tuple[Customer, SentEvents]]
    ) -> list[Prediction]:
        CALL_SIZE.labels(endpoint="/predict").observe(len(items))
        return self._score(items, self._at(as_of))

    def _score_known_at(
        self, as_of: datetime | None, customer_ids: list[str]
    ) -> list[Prediction | Gone]:
        """Customers of the loaded history, each once (one asked for twice at once shares an
        answer: same history, same time). One who has left by `as_of` (or not yet joined) gets
        why, not a risk and an offer."""
        CALL_SIZE.labels(endpoint="/predict_by_id").observe(len(customer_ids))
        assert self.history is not None
        at = self._at(as_of)
        found = self.history.find(list(dict.fromkeys(customer_ids)))
        profile = found.profile(at)
        gone = outside_population(found.events, profile, at, self.scorer.bundle.labels)
        rows = {}
        if len(gone) < len(profile):
            staying = profile[~profile["customer_id"].isin(list(gone)).to_numpy()]
            scored = scored_rows(
                self.scorer,
                found.events,
                staying,
                at,
                EXPLAIN_TOP,
                found.actions,
                self.history.since,
            )
            rows = {str(row["customer_id"]): row for row in scored}
        return [
            Gone.refuse(f"customer {cid} is not scored: {gone[cid]}", "customer_gone")
            if cid in gone
            else answer(rows[cid], at)
            for cid in customer_ids
        ]

    def _score(self, items: Items, at: datetime) -> list[Prediction]:
        """Each item scored as its own customer, under its place in `items` as id: requests
        coalesced into one call may name the same customer with different histories."""
        places = [str(i) for i in range(len(items))]
        events, customers = tables(items, self.profile, places)
        scored = scored_rows(self.scorer, events, customers, at, EXPLAIN_TOP)
        rows = {str(row["customer_id"]): row for row in scored}
        config = self.scorer.bundle.feature_config
        return [
            answer(
                rows[place] | {"customer_id": customer.customer_id},
                at,
                unknown_touchpoints(history, config),
            )
            for place, (customer, history) in zip(places, items, strict=True)
        ]

    @staticmethod
    def _at(as_of: datetime | None) -> datetime:
        return datetime.now(UTC) if as_of is None else as_of.astimezone(UTC)

    def _refuse(self, error: ApiError) -> Response:
        return error.response(self.scorer.model_name, self.scorer.model_version)


# mypy does not see class decorators' return types: CxmlService is a bentoml.Service here.
service = cast("bentoml.Service[CxmlService]", CxmlService)
service.mount_asgi_app(ui_app(lambda: bentoml.get_current_service().ui), path="/ui")
service.add_asgi_middleware(Guard, json_routes=SCORING_ROUTES)
