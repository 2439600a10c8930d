"""BentoML's own floor under cxml's /predict (benchmarks/bench_service.py): a BentoML service with
cxml's request and answer schemas and its service settings that does no work. Each request's
body is still parsed and validated into `PredictRequest`, and a fixed `Prediction` is answered,
so what it costs is what BentoML costs before cxml's own work starts.

Served as `python -m bentoml serve benchmarks.floor_service:FloorService` from the repository's
root.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # as cxml's service

from datetime import UTC, datetime

import bentoml

from cxml.serving.schemas import Customer, Event, Prediction, PredictRequest

#: An answer of cxml's shape: three reasons and an action, as a scored customer gets.
ANSWER = Prediction.model_validate(
    {
        "customer_id": "C000001",
        "as_of": datetime(2025, 1, 1, tzinfo=UTC),
        "churn_probability": 0.1,
        "churn_risk_band": "medium",
        "reasons": ["12 logins in the last 30 days"] * 3,
        "reason_families": ["usage"] * 3,
        "action": {"name": "discount", "expected_gain": 10.0, "cost": 5.0},
        "model_name": "cxml-demo",
        "model_version": "1",
    }
)


@bentoml.service(
    name="floor",
    logging={"access": {"enabled": False}},
    tracing={"excluded_urls": ["/predict"]},
)
class FloorService:
    @bentoml.api(route="/predict", input_spec=PredictRequest, output_spec=Prediction)
    async def predict(
        self, customer: Customer, events: list[Event], as_of: datetime | None = None
    ) -> Prediction:
        return ANSWER
