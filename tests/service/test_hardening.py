"""The HTTP edges an attacker reaches first, against the real server: request deadlines (a slow
client is cut off), what a client without the key learns (nothing of the model), the methods
probes answer, and the API document (/docs.json) against what the server really answers."""

from __future__ import annotations

import itertools
import json
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import jsonschema
import pytest

import cxml
from tests.service.conftest import API_KEY, BODY_TIMEOUT, HEADER_TIMEOUT, Served
from tests.service.server import CUTOFF
from tests.service.test_service import _body, _staying

MARGIN = 15.0  # generous: the server closes a stalled connection by its limit plus this
ENDPOINTS = ("/predict", "/predict_batch", "/predict_by_id")


# -------------------------------------------------------------------------- raw connections
def _connect(served: Served) -> socket.socket:
    return socket.create_connection(("127.0.0.1", served.server.port), timeout=10)


def _until_closed(sock: socket.socket, seconds: float) -> tuple[bytes, bool]:
    """What the server sends until it closes the connection, and whether it did close it
    within `seconds`."""
    deadline, data = time.monotonic() + seconds, b""
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            return data, False
        except ConnectionResetError:
            return data, True
        if not chunk:
            return data, True
        data += chunk
    return data, False


def _parsed(raw: bytes) -> tuple[int, dict[str, str], dict[str, Any]]:
    """(status, headers, JSON body) of a raw HTTP/1.1 answer."""
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines)}
    return int(status_line.split()[1]), headers, json.loads(body)


PARTIAL = b"POST /predict HTTP/1.1\r\nHost: cxml\r\nContent-Type: appl"


def test_connections_stalled_in_their_headers_are_closed(served):
    """Twenty connections stop mid-headers and one sends nothing: meanwhile the server answers
    others; then each is closed by CXML_HEADER_TIMEOUT, the stalled ones told 408 first."""
    stalled = [_connect(served) for _ in range(20)]
    for sock in stalled:
        sock.sendall(PARTIAL)
    silent = _connect(served)
    try:
        assert httpx.get(f"{served.url}/livez", timeout=10).status_code == 200
        with ThreadPoolExecutor(len(stalled) + 1) as pool:
            waits = [pool.submit(_until_closed, s, HEADER_TIMEOUT + MARGIN) for s in stalled]
            said, closed = pool.submit(_until_closed, silent, HEADER_TIMEOUT + MARGIN).result()
            answers = [wait.result() for wait in waits]
    finally:
        for sock in [*stalled, silent]:
            sock.close()
    assert closed and said == b"", said[:200]
    for raw, closed in answers:
        assert closed, "a connection stalled in its headers was left open"
        status, headers, body = _parsed(raw)
        assert status == 408 and headers["connection"] == "close"
        assert "CXML_HEADER_TIMEOUT" in body["error"]
        assert "model_name" not in body and "x-model-version" not in headers


def test_headers_sent_a_byte_at_a_time_are_cut_off(served):
    """Slowloris: a byte arriving resets no clock; the headers as a whole must be in time."""
    sock, closed = _connect(served), False
    give_up = time.monotonic() + HEADER_TIMEOUT + MARGIN
    try:
        for byte in itertools.cycle(PARTIAL):  # header lines that never end
            if closed or time.monotonic() > give_up:
                break
            try:
                sock.sendall(bytes([byte]))
            except OSError:  # closed by the server
                closed = True
                break
            closed = _until_closed(sock, 0.25)[1]
    finally:
        sock.close()
    assert closed, "the server still took header bytes past its limit"


def test_a_stalled_second_request_on_a_kept_alive_connection_is_closed(served):
    sock = _connect(served)
    try:
        sock.sendall(b"GET /livez HTTP/1.1\r\nHost: cxml\r\n\r\n")
        first = sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 200"), first[:200]
        sock.sendall(PARTIAL)
        raw, closed = _until_closed(sock, HEADER_TIMEOUT + MARGIN)
    finally:
        sock.close()
    assert closed
    assert _parsed(raw)[0] == 408


@pytest.mark.parametrize("path", ["/predict", "/livez"])
def test_a_body_that_stops_arriving_is_answered_408_and_closed(served, path):
    method = "POST" if path == "/predict" else "GET"
    sock = _connect(served)
    try:
        sock.sendall(
            f"{method} {path} HTTP/1.1\r\nHost: cxml\r\nAuthorization: Bearer {API_KEY}\r\n"
            "Content-Type: application/json\r\nContent-Length: 200\r\n\r\n".encode()
            + b'{"customer": '
        )
        raw, closed = _until_closed(sock, BODY_TIMEOUT + MARGIN)
    finally:
        sock.close()
    assert closed, "a connection whose body stopped was left open"
    status, headers, body = _parsed(raw)
    assert status == 408 and headers["connection"] == "close"
    assert "CXML_BODY_TIMEOUT" in body["error"] and body["detail"][0]["type"] == "body_timeout"


# ----------------------------------------------------------------- what a stranger learns
@pytest.mark.parametrize("key", [None, "wrong"])
def test_a_401_names_no_model(served, good_body, key):
    name, version = served.prepared.model_name, served.prepared.version
    with served.client(key) as client:
        for response in (
            client.post("/predict", json=good_body),
            client.post("/predict_by_id", json={"customer_id": "C0000001"}),
            client.get("/docs.json"),
        ):
            assert response.status_code == 401
            body = response.json()
            assert set(body) == {"error", "detail"}, body
            assert name not in response.text
            assert not any(h.startswith("x-model") for h in response.headers), response.headers
            assert version not in [v for _, v in response.headers.items()]


def test_probes_tell_a_client_without_the_key_nothing_of_the_model(served):
    for path in ("/livez", "/readyz", "/metrics"):
        response = httpx.get(f"{served.url}{path}", timeout=10)
        assert response.status_code == 200
        assert "x-model-name" not in response.headers and "x-model-version" not in response.headers
    with served.client() as client:  # with the key, answers name the model
        assert client.get("/livez").headers["x-model-version"] == served.prepared.version


@pytest.mark.parametrize("path", ["/livez", "/healthz", "/readyz", "/metrics"])
@pytest.mark.parametrize("content_type", [None, "text/plain", "application/json"])
def test_posting_to_a_probe_is_405(served, path, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    response = httpx.post(f"{served.url}{path}", content=b"{}", headers=headers, timeout=10)
    assert response.status_code == 405, response.text
    assert "GET" in response.headers["allow"]


# --------------------------------------------------------------------------- the document
@pytest.fixture(scope="module")
def document(served: Served) -> dict[str, Any]:
    with served.client() as client:
        response = client.get("/docs.json")
    assert response.status_code == 200
    return dict(response.json())


@pytest.fixture(scope="module")
def good_body(served: Served) -> dict[str, Any]:
    return _body(served, _staying_ids(served)[0])


def _staying_ids(served: Served) -> list[str]:
    return sorted(_staying(served)["customer_id"].astype(str))


def _validate(document: dict[str, Any], schema: dict[str, Any], value: Any) -> None:
    """`value` against `schema` of the document (its $refs resolved in the document)."""
    jsonschema.Draft202012Validator({**schema, "components": document["components"]}).validate(
        value
    )


def test_the_document_is_cxmls(document):
    info = document["info"]
    assert info["title"] == "cxml" and info["version"] == cxml.__version__
    assert "BentoML" not in info["description"] and "Churn risk" in info["description"]
    assert document["openapi"].startswith("3.1")
    assert "InvalidArgument" not in document["components"]["schemas"]


def test_each_endpoints_example_is_a_request_it_answers(served, document):
    with served.client() as client:
        for path in ENDPOINTS:
            body = document["paths"][path]["post"]["requestBody"]["content"]["application/json"]
            _validate(document, body["schema"], body["example"])
            response = client.post(path, json=body["example"])
            assert response.status_code == 200 or (
                path == "/predict_by_id" and response.status_code in (404, 409)
            ), (path, response.text[:300])


def _gone(served: Served) -> str:
    """A customer who cancelled before the cutoff (answered 409 by id)."""
    events = served.tables["events"]
    cancels = events[(events["event_type"] == "cancel") & (events["event_time"] < CUTOFF)]
    return str(cancels.sort_values("event_time")["customer_id"].iloc[0])


def _requests(served: Served, good: dict[str, Any]) -> dict[str, dict[int, Any]]:
    """For each endpoint, per status, a request (httpx keyword arguments, or "slow": a body
    that stops arriving) that the server answers with that status."""
    json_type = {"Content-Type": "application/json"}
    by_id = {"customer_id": _staying_ids(served)[0], "as_of": CUTOFF}
    good_bodies = {
        "/predict": good,
        "/predict_batch": {"customers": [{k: good[k] for k in ("customer", "events")}]},
        "/predict_by_id": by_id,
    }
    naive = {"/predict": {**good, "as_of": "2025-06-30T00:00:00"}}
    naive["/predict_batch"] = {**good_bodies["/predict_batch"], "as_of": "2025-06-30T00:00:00"}
    naive["/predict_by_id"] = {**by_id, "as_of": "2025-06-30T00:00:00"}
    requests: dict[str, dict[int, Any]] = {}
    for path in ENDPOINTS:
        requests[path] = {
            200: {"json": good_bodies[path]},
            400: {"content": b'{"customer": ', "headers": json_type},
            401: {"json": good_bodies[path], "headers": {"Authorization": "Bearer nope"}},
            408: "slow",
            413: {"content": b" " * (2 << 20), "headers": json_type},
            415: {
                "content": json.dumps(good_bodies[path]),
                "headers": {"Content-Type": "text/csv"},
            },
            422: {"json": naive[path]},
        }
    requests["/predict_by_id"][404] = {"json": {"customer_id": "nobody-here"}}
    requests["/predict_by_id"][409] = {"json": {"customer_id": _gone(served), "as_of": CUTOFF}}
    return requests


def _slow(served: Served, path: str) -> httpx.Response:
    sock = _connect(served)
    try:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: cxml\r\nAuthorization: Bearer {API_KEY}\r\n"
            "Content-Type: application/json\r\nContent-Length: 50\r\n\r\n{".encode()
        )
        raw, _ = _until_closed(sock, BODY_TIMEOUT + MARGIN)
    finally:
        sock.close()
    status, headers, body = _parsed(raw)
    return httpx.Response(status, headers=headers, json=body)


def test_every_status_the_document_lists_is_answered_with_its_body(served, document, good_body):
    """Each endpoint, each status it documents: a request that gets exactly that status, its
    body valid against the documented schema, and no status documented that none gets."""
    requests = _requests(served, good_body)

    def call(path: str, status: int) -> httpx.Response:
        if requests[path][status] == "slow":
            return _slow(served, path)
        with served.client() as client:
            return client.post(path, **requests[path][status])

    for path in ENDPOINTS:
        assert set(document["paths"][path]["post"]["responses"]) == {
            str(status) for status in requests[path]
        }, path
    calls = [
        (path, int(s)) for path in ENDPOINTS for s in document["paths"][path]["post"]["responses"]
    ]
    with ThreadPoolExecutor(4) as pool:  # the three slow bodies wait together
        responses = list(pool.map(lambda c: call(*c), calls))
    for (path, status), response in zip(calls, responses, strict=True):
        assert response.status_code == status, (path, status, response.text[:300])
        documented = document["paths"][path]["post"]["responses"][str(status)]
        _validate(document, documented["content"]["application/json"]["schema"], response.json())
        for header, spec in documented.get("headers", {}).items():
            assert not spec["required"] or header.lower() in response.headers, (path, status)


def test_the_request_schema_knows_the_models_attributes(served, document):
    """A category the model never saw and an attribute it does not know are invalid by the
    document, as the server refuses them (422); null and a known level are valid."""
    attributes = document["components"]["schemas"]["Customer"]["properties"]["attributes"]
    plan = attributes["properties"]["plan"]["enum"]
    assert None in plan and "basic" in plan and "gold" not in plan
    assert attributes["additionalProperties"] is False and "email" not in attributes["properties"]
    schema = {"$ref": "#/components/schemas/Event"}
    event = {"event_time": "2025-01-01T00:00:00Z", "event_type": "survey_nps"}
    valid = []
    for value in (-1, 0, 3.5, 10, 11):
        try:
            _validate(document, schema, {**event, "value": value})
            valid.append(value)
        except jsonschema.ValidationError:
            pass
    assert valid == [0, 3.5, 10]  # NPS 0..10, as the service's range check
