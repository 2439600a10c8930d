"""ASGI middleware for what BentoML 1.4 lacks: the API key, a body size limit and deadline, the
JSON content type, model headers on answers, the API document, and an access log that holds no
request content."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cxml.serving.errors import (
    ApiError,
    BadRequest,
    RequestTimeout,
    TooLarge,
    Unauthorized,
    UnsupportedMediaType,
)
from cxml.serving.settings import Settings

#: The service's logger: the access log's lines are the service's own.
log = logging.getLogger("cxml.service")
OPEN_PATHS = ("/livez", "/healthz", "/readyz", "/metrics")  # probes, scraping: no key needed
API_DOCUMENT = "/docs.json"  # BentoML's route for the OpenAPI document, answered here


@dataclass
class _Announced:
    """What the service tells the guard once the model is loaded (see `announce_model`)."""

    name: str | None = None
    version: str | None = None
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    document: bytes | None = None


_ANNOUNCED = _Announced()


def announce_model(name: str, version: str, document: Mapping[str, Any]) -> None:
    """Name the loaded model in every answer to a client with the key (in the headers, and in
    the body of a refusal), and serve `document` at /docs.json. BentoML builds the middleware
    itself, so the service cannot hand these to it."""
    headers = [(b"x-model-name", name.encode()), (b"x-model-version", version.encode())]
    _ANNOUNCED.name, _ANNOUNCED.version, _ANNOUNCED.headers = name, version, headers
    _ANNOUNCED.document = json.dumps(document).encode()


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
    """Refuses what the service should never see (a missing key; a body too large, too slow or,
    on a `json_routes` POST, not JSON) before BentoML reads it, and logs method, path, status
    and latency only: no client address, query, body or customer id. A client without the key
    learns nothing of the model: no model headers, no model in a refusal."""

    def __init__(self, app: ASGIApp, json_routes: Sequence[str] = ()) -> None:
        self.app = app
        settings = Settings.from_env()
        self.key = settings.api_key.encode() if settings.api_key else None
        self.max_body = settings.max_body_bytes
        self.body_timeout = settings.body_timeout
        self.json_routes = frozenset(json_routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 0
        headers = dict(scope["headers"])
        keyed = self._keyed(headers)
        model = _ANNOUNCED.headers if keyed else []

        async def send_with_model(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", []), *model]}
            await send(message)

        try:
            await self._answer(scope, headers, keyed, receive, send_with_model)
        finally:
            elapsed = (time.perf_counter() - started) * 1e3
            log.info("%s %s %d %.1fms", scope["method"], scope["path"], status, elapsed)

    async def _answer(
        self, scope: Scope, headers: dict[bytes, bytes], keyed: bool, receive: Receive, send: Send
    ) -> None:
        """Refuse the request, or hand it on (its body, already read, replayed to it). Every
        body is read here, a GET's too: none may take longer, or be larger, than the limits."""
        try:
            self._check_headers(scope, headers, keyed)
            receive = _replay(await self._read_body(receive), receive)
        except ApiError as error:
            model = (_ANNOUNCED.name, _ANNOUNCED.version) if keyed else (None, None)
            refusal = error.response(*model)
            await refusal(scope, receive, send)
            return
        if scope["path"] == API_DOCUMENT and _ANNOUNCED.document is not None:
            await Response(_ANNOUNCED.document, media_type="application/json")(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _keyed(self, headers: dict[bytes, bytes]) -> bool:
        """The request shows the API key (or none is needed)."""
        if self.key is None:
            return True
        scheme, _, token = headers.get(b"authorization", b"").partition(b" ")
        return scheme.lower() == b"bearer" and hmac.compare_digest(token.strip(), self.key)

    def _check_headers(self, scope: Scope, headers: dict[bytes, bytes], keyed: bool) -> None:
        if not keyed and scope["path"] not in OPEN_PATHS:
            msg = "missing or wrong API key: send the header 'Authorization: Bearer <key>'"
            raise Unauthorized.refuse(msg, "unauthorized", {"WWW-Authenticate": "Bearer"})
        if scope["method"] == "POST" and scope["path"] in self.json_routes:
            media = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
            if media != b"application/json":
                msg = "send the body as JSON with the header 'Content-Type: application/json'"
                raise UnsupportedMediaType.refuse(msg, "unsupported_media_type")
        length = headers.get(b"content-length", b"0").strip()
        if not length.isdigit():
            raise BadRequest.refuse("Content-Length is not a whole number", "bad_content_length")
        if int(length) > self.max_body:
            raise self._too_large()

    async def _read_body(self, receive: Receive) -> bytes:
        """The whole body within CXML_BODY_TIMEOUT: a client sending it slowly is answered 408
        and the connection closed, rather than holding it and the worker's memory."""
        try:
            async with asyncio.timeout(self.body_timeout):
                return await self._read_chunks(receive)
        except TimeoutError:
            msg = (
                f"body not complete within {self.body_timeout} s (CXML_BODY_TIMEOUT): "
                "send the whole request at once"
            )
            raise RequestTimeout.refuse(msg, "body_timeout", {"Connection": "close"}) from None

    async def _read_chunks(self, receive: Receive) -> bytes:
        """The body, refused as soon as it grows over the limit (a chunked body declares no
        length to check beforehand)."""
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                raise BadRequest.refuse("the client went away mid-request", "disconnected")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                raise self._too_large()
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    def _too_large(self) -> TooLarge:
        msg = (
            f"body over {self.max_body:,} bytes (CXML_MAX_BODY_BYTES): send fewer events or "
            "customers per request"
        )
        return TooLarge.refuse(msg, "body_too_large")


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


def keep_request_content_out_of_logs() -> None:
    """Filter BentoML's request-failure log records (see `_NoRequestContent`)."""
    logging.getLogger("bentoml._internal.server.http_app").addFilter(_NoRequestContent())
