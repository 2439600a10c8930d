"""Refused requests as typed errors, and the one place their HTTP statuses are decided.

Every refusal, by the guard or by the service, answers with the same body: `error` (one
sentence), `detail` (field-level problems shaped like pydantic's errors: loc, msg, type) and the
model's name and version, except to a client that has not shown the API key (a 401, or a request
that never finished arriving): they learn nothing about the model. Bodies that do not match the
schema get their 400 from BentoML itself, with the same `error` and `detail` keys. Each kind's
`description` is what the API document (`cxml.serving.openapi`) says of its status.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Self

from starlette.responses import JSONResponse

Problem = dict[str, Any]  # {"loc": [...], "msg": ..., "type": ...}, like pydantic's errors
MAX_PROBLEMS = 20  # field messages per answer; the rest are counted


def problem(loc: Sequence[str | int], msg: str, kind: str) -> Problem:
    return {"loc": list(loc), "msg": msg, "type": kind}


class ApiError(Exception):
    """A request refused for its `problems`. The subclass says which kind, and so the status.
    Made with `refuse` when the request as a whole is refused (the message is the problem's);
    otherwise the message counts the problems and quotes the first."""

    status: ClassVar[int] = 400
    description: ClassVar[str] = ""

    def __init__(
        self,
        problems: Sequence[Problem],
        message: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if not problems:
            raise ValueError("an ApiError needs at least one problem")
        self.problems = list(problems)
        self.headers = dict(headers) if headers else None
        more = f" (first {MAX_PROBLEMS} shown)" if len(self.problems) > MAX_PROBLEMS else ""
        count = f"{len(self.problems)} problem(s) in the request{more}"
        self.message = message or f"{count}: {self.problems[0]['msg']}"
        super().__init__(self.message)

    @classmethod
    def refuse(cls, msg: str, kind: str, headers: Mapping[str, str] | None = None) -> Self:
        return cls([problem([], msg, kind)], msg, headers)

    def body(self, model_name: str | None = None, model_version: str | None = None) -> Problem:
        """The answer's JSON; the model named only when given."""
        body: Problem = {"error": self.message, "detail": self.problems[:MAX_PROBLEMS]}
        if model_name is not None:
            body |= {"model_name": model_name, "model_version": model_version}
        return body

    def response(
        self, model_name: str | None = None, model_version: str | None = None
    ) -> JSONResponse:
        body = self.body(model_name, model_version)
        return JSONResponse(body, status_code=self.status, headers=self.headers)


# The statuses, all of them: a new kind of refusal is a new subclass here.
class BadRequest(ApiError):
    """The body cannot be read as the schema's (length, framing; BentoML's own 400s aside)."""

    status = 400
    description = (
        "The body does not match the schema: malformed JSON, a wrong type, a missing or unknown "
        "field, a value not allowed"
    )


class Unauthorized(ApiError):
    """Missing or wrong API key."""

    status = 401
    description = (
        "CXML_API_KEY is set and the header 'Authorization: Bearer <key>' is missing or wrong; "
        "the answer names no model"
    )


class NotFound(ApiError):
    """A customer this server does not know (or no history loaded to know any)."""

    status = 404
    description = "An unknown customer_id, or a server that loaded no data dir"


class Gone(ApiError):
    """A known customer the model does not speak for at `as_of`: cancelled before it, not a
    customer yet, or lapsed. Answered instead of a risk and an offer that would mean nothing."""

    status = 409
    description = (
        "A known customer the model does not speak for at as_of: cancelled before it, not a "
        "customer yet, or lapsed; `error` says which and when. No risk and no offer are given"
    )


class RequestTimeout(ApiError):
    """A request that did not arrive in time (CXML_HEADER_TIMEOUT, CXML_BODY_TIMEOUT): a slow
    client would otherwise hold a connection, and a worker's memory, for as long as it likes."""

    status = 408
    description = (
        "The body did not arrive within CXML_BODY_TIMEOUT seconds of the headers (or the "
        "headers within CXML_HEADER_TIMEOUT); the connection is closed"
    )


class TooLarge(ApiError):
    """A body over CXML_MAX_BODY_BYTES."""

    status = 413
    description = "The body is over CXML_MAX_BODY_BYTES"


class UnsupportedMediaType(ApiError):
    """A body not declared as JSON."""

    status = 415
    description = "The body is not declared as 'Content-Type: application/json'"


class Unusable(ApiError):
    """Well-formed but unusable: a naive or out-of-range time, a value outside its event's
    range, too many events or customers, an attribute the model does not know, PII."""

    status = 422
    description = (
        "Well-formed but unusable: a time without a zone or outside 1900..2200, an event value "
        "outside its type's range, too many events or customers, a customer_id repeated in a "
        "batch, an attribute the model does not know, a category it never saw, PII"
    )
