"""Fuzzing the three API operations from the server's own OpenAPI document (/docs.json) with
schemathesis' strategies: valid and invalid bodies alike must never get a 5xx.

(schemathesis' pytest `parametrize` breaks on pytest 9, so each operation runs as a plain
hypothesis test here.)"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from tests.service.conftest import API_KEY, Served

AUTH = {"Authorization": f"Bearer {API_KEY}"}
EXAMPLES = 30  # per operation and mode: ~3 x 2 x 30 requests, a few seconds


@pytest.fixture(scope="module")
def api_schema(served: Served) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{served.url}/docs.json", headers=AUTH, timeout=30)


@pytest.fixture(scope="module")
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize("path", ["/predict", "/predict_batch", "/predict_by_id"])
def test_no_generated_request_gets_a_server_error(api_schema, served, http, path, mode) -> None:
    strategy = api_schema[path]["POST"].as_strategy(generation_mode=mode)
    statuses: set[int] = set()

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    @given(case=strategy)
    def call(case: schemathesis.Case) -> None:
        response = case.call(base_url=served.url, headers=AUTH, session=http, timeout=30)
        statuses.add(response.status_code)
        assert response.status_code < 500, (case.as_curl_command(), response.text[:500])
        assert response.status_code in {200, 400, 404, 413, 415, 422}, response.text[:500]

    call()
    assert statuses, "no request was made"
