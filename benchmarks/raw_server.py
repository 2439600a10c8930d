"""The bare model server cxml's endpoint is measured against (benchmarks/bench_service.py): a
Starlette app that parses the JSON body, has LightGBM predict one ready-made feature row and
answers JSON. Nothing else (no features, checks, calibration, actions), so the gap to cxml's
/predict is what cxml adds on top of serving the model.

Served as `python -m uvicorn --factory benchmarks.raw_server:from_env`, the booster file and
the row (.npy) named by RAW_MODEL and RAW_ROW. It imports only what a bare server needs.
"""

from __future__ import annotations

import os

import lightgbm as lgb
import numpy as np
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route


def make_app(model: str, row: str) -> Starlette:
    """The app over the booster saved at `model` and the one-row matrix saved at `row`."""
    booster = lgb.Booster(model_file=model)
    matrix = np.load(row)

    async def predict(request: Request) -> JSONResponse:
        body = await request.json()
        churn = float(booster.predict(matrix)[0])
        return JSONResponse({"customer_id": body["customer"]["customer_id"], "churn": churn})

    async def ready(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    routes = [Route("/predict", predict, methods=["POST"]), Route("/readyz", ready)]
    return Starlette(routes=routes)


def from_env() -> Starlette:
    return make_app(os.environ["RAW_MODEL"], os.environ["RAW_ROW"])
