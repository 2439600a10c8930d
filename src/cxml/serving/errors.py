"""Refused requests as typed errors, and the one place their HTTP statuses are decided.

Every refusal, by the guard or by the service, answers with the same body: `error` (one
sentence), `detail` (field-level problems shaped like pydantic's errors: loc, msg, type) and the
model's name and version. Bodies that do not match the schema get their 400 from BentoML itself,
with the same `error` and `detail` keys.
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

    def response(self, model_name: str | None, model_version: str | None) -> JSONResponse:
        body = {
            "error": self.message,
            "detail": self.problems[:MAX_PROBLEMS],
            "model_name": model_name,
            "model_version": model_version,
        }
        return JSONResponse(body, status_code=self.status, headers=self.headers)


# The statuses, all of them: a new kind of refusal is a new subclass here.
class BadRequest(ApiError):
    """The body cannot be read as the schema's (length, framing; BentoML's own 400s aside)."""

    status = 400


class Unauthorized(ApiError):
    """Missing or wrong API key."""

    status = 401


class NotFound(ApiError):
    """A customer this server does not know (or no history loaded to know any)."""

    status = 404


class Gone(ApiError):
    """A known customer the model does not speak for at `as_of`: cancelled before it, not a
    customer yet, or lapsed. Answered instead of a risk and an offer that would mean nothing."""

    status = 409


class TooLarge(ApiError):
    """A body over CXML_MAX_BODY_BYTES."""

    status = 413


class UnsupportedMediaType(ApiError):
    """A body not declared as JSON."""

    status = 415


class Unusable(ApiError):
    """Well-formed but unusable: a naive or out-of-range time, a value outside its event's
    range, too many events or customers, an attribute the model does not know, PII."""

    status = 422
