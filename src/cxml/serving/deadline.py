"""A deadline for a request's line and headers, which no ASGI middleware can set: uvicorn hands a
request to the app only once its headers are complete, and closes only idle keep-alive
connections (`timeout_keep_alive`, after a response). A client that opens connections and sends
headers slowly, or nothing at all, held them for ever. BentoML 1.4 builds the `uvicorn.Config`
of each worker itself, after importing the service, with uvicorn's default protocol ("auto") and
no header timeout among its options; so the service makes that default this protocol, in the
worker's process, before the config is loaded (`use_header_deadline`). The body's deadline is
the guard's (`cxml.serving.guard`), where a slow body can be answered like any refusal."""

from __future__ import annotations

import asyncio
import json

from uvicorn.config import HTTP_PROTOCOLS
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from cxml.serving.errors import RequestTimeout


class HeaderDeadline(HttpToolsProtocol):
    """uvicorn's httptools protocol (what "auto" picks; httptools is a dependency), closing a
    connection whose request line and headers are not complete `seconds` after it opened, or
    after the first byte of a later request on it. A client that had begun a request is told
    408 first; one that sent nothing is closed without a word, as an idle keep-alive is."""

    seconds: float = 10.0
    timeout_response = b""  # the raw 408, made by use_header_deadline
    _deadline: asyncio.TimerHandle | None = None
    _begun = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._deadline = self.loop.call_later(self.seconds, self._expire)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._begun = True
        if self._deadline is None:  # a later request on a kept-alive connection
            self._deadline = self.loop.call_later(self.seconds, self._expire)

    def on_headers_complete(self) -> None:
        self._stop()
        self._begun = False
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop()
        super().connection_lost(exc)

    def _stop(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        # Answer only when no earlier request on this connection is still being answered.
        if self._begun and (self.cycle is None or self.cycle.response_complete):
            self.transport.write(self.timeout_response)
        self.transport.close()


def use_header_deadline(seconds: float) -> None:
    """Make `HeaderDeadline` uvicorn's default HTTP protocol in this process (call before the
    server starts: BentoML's worker imports the service first)."""
    msg = (
        f"request line and headers not complete within {seconds:g} s (CXML_HEADER_TIMEOUT): "
        "send the whole request at once"
    )
    body = json.dumps(RequestTimeout.refuse(msg, "header_timeout").body()).encode()
    head = (
        "HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    HeaderDeadline.seconds = seconds
    HeaderDeadline.timeout_response = head.encode() + body
    HTTP_PROTOCOLS["auto"] = f"{__name__}:{HeaderDeadline.__name__}"
