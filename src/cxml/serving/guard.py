"""ASGI middleware for what BentoML 1.4 lacks: the API key, a body size limit, the JSON content
type, model headers on every response, and an access log that holds no request content."""

from __future__ import annotations

import hmac
import logging
import time
import traceback

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cxml.serving.errors import (
    ApiError,
    BadRequest,
    TooLarge,
    Unauthorized,
    UnsupportedMediaType,
)
from cxml.serving.settings import Settings

#: The service's logger: the access log's lines are the service's own.
log = logging.getLogger("cxml.service")
OPEN_PATHS = ("/livez", "/healthz", "/readyz", "/metrics")  # probes, scraping: no key needed
_MODEL_HEADERS: list[tuple[bytes, bytes]] = []  # filled once the model is loaded


def announce_model(name: str, version: str) -> None:
    """Name the loaded model in every response's headers (and in the guard's refusals).
    BentoML builds the middleware itself, so the service cannot hand the model to it."""
    _MODEL_HEADERS[:] = [(b"x-model-name", name.encode()), (b"x-model-version", version.encode())]


def _refusal(error: ApiError) -> JSONResponse:
    names = dict(_MODEL_HEADERS)
    name = names.get(b"x-model-name", b"").decode() or None
    version = names.get(b"x-model-version", b"").decode() or None
    return error.response(name, version)


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
    """Refuses what the service should never see (a missing key, a body too large or not JSON)
    before BentoML reads it, and logs method, path, status and latency only: no client address,
    query, body or customer id."""

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
            await self._answer(scope, receive, send_with_model)
        finally:
            elapsed = (time.perf_counter() - started) * 1e3
            log.info("%s %s %d %.1fms", scope["method"], scope["path"], status, elapsed)

    async def _answer(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse the request, or hand it on (a POST's body, already read, replayed to it)."""
        try:
            self._check_headers(scope)
            if scope["method"] == "POST":
                receive = _replay(await self._read_body(receive), receive)
        except ApiError as error:
            await _refusal(error)(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _check_headers(self, scope: Scope) -> None:
        headers = dict(scope["headers"])
        if self.key is not None and scope["path"] not in OPEN_PATHS:
            scheme, _, token = headers.get(b"authorization", b"").partition(b" ")
            if not (scheme.lower() == b"bearer" and hmac.compare_digest(token.strip(), self.key)):
                msg = "missing or wrong API key: send the header 'Authorization: Bearer <key>'"
                raise Unauthorized.refuse(msg, "unauthorized", {"WWW-Authenticate": "Bearer"})
        if scope["method"] != "POST":
            return
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
        """The whole body, refused as soon as it grows over the limit (a chunked body declares
        no length to check beforehand)."""
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
