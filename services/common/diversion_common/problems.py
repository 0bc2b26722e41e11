"""RFC 9457 problem responses: one exception base class, one set of handlers.

Every error a service raises on purpose is a ``Problem``; everything else that
escapes becomes a bare 500 problem. Messages never carry request values, so no
personal data can leak through an error.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi import HTTPException
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
import structlog

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://diversion-link.example/problems/"

log = structlog.get_logger("diversion.problems")


class FieldError(BaseModel):
    """One offending field, as a JSON pointer into the request."""

    pointer: str = Field(examples=["/subject/date_of_birth"])
    detail: str


class ProblemDetails(BaseModel):
    type: str = Field(examples=[PROBLEM_TYPE_BASE + "validation-failed"])
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[FieldError] | None = None
    existing: str | None = Field(
        default=None, description="Location of the existing resource, for conflicts."
    )


_STANDARD_MEMBERS = frozenset({"type", "title", "status", "detail", "instance", "errors"})


class Problem(Exception):
    """Base class of every error a service raises for a client to see."""

    status = 500
    slug = "internal-error"
    title = "Internal error"

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra

    def to_body(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": PROBLEM_TYPE_BASE + self.slug,
            "title": self.title,
            "status": self.status,
        }
        if self.detail:
            body["detail"] = self.detail
        if instance:
            body["instance"] = instance
        if self.errors:
            body["errors"] = [e.model_dump() for e in self.errors]
        # Extension members add to the standard ones and never replace them: a problem's
        # `status` is always its HTTP status, whatever a raiser passed under that name.
        body.update({k: v for k, v in self.extra.items() if v is not None and k not in _STANDARD_MEMBERS})
        return body


class ValidationFailed(Problem):
    status = 422
    slug = "validation-failed"
    title = "The request is not valid"


class MalformedRequest(Problem):
    status = 400
    slug = "malformed-request"
    title = "The request body is not well-formed JSON"


class Unauthenticated(Problem):
    status = 401
    slug = "unauthenticated"
    title = "Missing or invalid credentials"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(Problem):
    status = 403
    slug = "forbidden"
    title = "This credential may not do that"


class NotFound(Problem):
    status = 404
    slug = "not-found"
    title = "No such resource"


class Conflict(Problem):
    status = 409
    slug = "conflict"
    title = "The request conflicts with the current state"


class PayloadTooLarge(Problem):
    status = 413
    slug = "payload-too-large"
    title = "The request body is too large"


class UnsupportedMediaType(Problem):
    status = 415
    slug = "unsupported-media-type"
    title = "The request body must be application/json"


class RequestTimeout(Problem):
    status = 408
    slug = "request-timeout"
    title = "The request body did not arrive in time"

    def __init__(self, detail: str | None = None) -> None:
        # The rest of a body that came too slowly is not worth reading: close the connection.
        super().__init__(detail, headers={"Connection": "close"})


class TooManyRequests(Problem):
    status = 429
    slug = "too-many-requests"
    title = "Too many requests"

    def __init__(self, retry_after_seconds: int, detail: str | None = None) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after_seconds)})


class ServiceUnavailable(Problem):
    status = 503
    slug = "service-unavailable"
    title = "The service cannot answer right now"


# How long a client is asked to wait when the database cannot be reached: a restart or a
# fail-over takes seconds, and the pool reconnects by itself on the first call after it.
DATABASE_RETRY_AFTER_SECONDS = 2


class DatabaseUnavailable(ServiceUnavailable):
    slug = "database-unavailable"
    title = "The service's database cannot be reached right now"

    def __init__(self) -> None:
        super().__init__(
            "Nothing was changed unless an earlier answer said so; try again after Retry-After "
            "(with the same Idempotency-Key, where the call takes one)",
            headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
        )


def problem_response(problem: Problem, request: Request | None = None) -> JSONResponse:
    instance = request.url.path if request is not None else None
    return JSONResponse(
        problem.to_body(instance),
        status_code=problem.status,
        headers=problem.headers,
        media_type=PROBLEM_MEDIA_TYPE,
    )


def pointer_for(loc: tuple[Any, ...] | list[Any]) -> str:
    """Turn a pydantic error location into a JSON pointer into the request part."""
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header"):
        source = parts.pop(0)
        prefix = "" if source == "body" else f"#{source}"
    else:
        prefix = ""
    # Union and function validators add their own names to the location.
    # A tagged union adds its tag (an event type such as `appointment.booked`: our field names have no dots).
    parts = [p for p in parts if not (isinstance(p, str) and ("[" in p or "." in p or p.startswith("function-")))]
    return prefix + "/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in parts)


_SAFE_CONTEXT_KEYS = ("expected", "max_length", "min_length", "ge", "le", "gt", "lt", "pattern")


def describe_error(error: dict[str, Any]) -> str:
    # pydantic messages describe the rule, never the value; the raw input is dropped.
    return str(error.get("msg", "invalid value"))


async def _validation_handler(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        return problem_response(MalformedRequest(), request)
    field_errors = [
        FieldError(pointer=pointer_for(e.get("loc", ())), detail=describe_error(e)) for e in errors
    ]
    return problem_response(
        ValidationFailed(f"{len(field_errors)} field(s) are not valid", errors=field_errors), request
    )


async def _problem_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Problem)
    return problem_response(exc, request)


_HTTP_STATUS_PROBLEMS: dict[int, type[Problem]] = {
    401: Unauthenticated,
    403: Forbidden,
    404: NotFound,
    408: RequestTimeout,
    409: Conflict,
    413: PayloadTooLarge,
    415: UnsupportedMediaType,
}


class _HttpProblem(Problem):
    def __init__(self, status: int, detail: str | None) -> None:
        super().__init__(detail)
        self.status = status
        self.slug = f"http-{status}"
        self.title = detail or "HTTP error"


_ROUTABLE_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route takes at this path.

    The router's own 405 names only the methods of the first route that matched
    the path, so a path served by two routes (GET and POST) would advertise one.
    """
    scope = {
        "type": "http",
        "path": request.scope["path"],
        "root_path": request.scope.get("root_path", ""),
        "headers": [],
        "query_string": b"",
    }
    routes = request.app.router.routes
    return [
        method
        for method in _ROUTABLE_METHODS
        if any(route.matches({**scope, "method": method})[0] is Match.FULL for route in routes)
    ]


class RefusedBody(HTTPException):
    """A problem found while the body is read (request_limits): FastAPI passes an HTTPException
    raised there on to the handlers, where any other error would become its own 400."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(status_code=problem.status, detail=problem.detail)
        self.problem = problem


async def _http_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if isinstance(exc, RefusedBody):
        return problem_response(exc.problem, request)
    if exc.status_code == 405:
        problem: Problem = _HttpProblem(405, "Method not allowed")
        problem.headers = dict(exc.headers or {})
        allowed = _allowed_methods(request)
        if allowed:
            problem.headers["Allow"] = ", ".join(allowed)
    elif exc.status_code in _HTTP_STATUS_PROBLEMS:
        problem = _HTTP_STATUS_PROBLEMS[exc.status_code]()
    else:
        problem = _HttpProblem(exc.status_code, str(exc.detail) if exc.detail else None)
    return problem_response(problem, request)


async def _unexpected_handler(request: Request, exc: Exception) -> JSONResponse:
    # Normally RequestContextMiddleware answers an unexpected error first (with the ids);
    # this is the server's own last resort. The type and our stack only: the message, like the
    # raw path, could carry request data.
    from diversion_common.observability import log_unexpected, route_template

    log_unexpected(log, exc, route_template(request.scope))
    return problem_response(Problem(), request)


def database_unreachable(error: BaseException) -> bool:
    """The database could not be reached, or the connection broke (a restart, a fail-over, a
    network fault), as against an error in what was asked of it (a constraint, bad data).

    OperationalError and InterfaceError are the DB-API's classes for the first kind (a refused
    connection, "terminating connection due to administrator command", "the database system is
    starting up"; SQLite's "database is locked"); SQLAlchemy flags a broken connection it found
    under any other class; a pool with no connection to hand out in time is the same to a client.
    """
    if isinstance(error, (OperationalError, InterfaceError, PoolTimeout)):
        return True
    return isinstance(error, DBAPIError) and error.connection_invalidated


async def _database_handler(request: Request, exc: Exception) -> JSONResponse:
    if not database_unreachable(exc):
        raise exc  # a fault of ours (a constraint, bad data): the last resort answers, 500
    from diversion_common.observability import error_type, route_template

    # Its type only: a driver's message can quote the statement's values.
    log.warning("database unavailable", error_type=error_type(exc), route=route_template(request.scope))
    return problem_response(DatabaseUnavailable(), request)


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_handler)  # type: ignore[arg-type]
    app.add_exception_handler(Problem, _problem_handler)
    app.add_exception_handler(StarletteHTTPException, _http_handler)
    # A database that is down, restarting or failing over is a 503 with Retry-After, not a 500:
    # the call can be made again, and nothing about it is our fault to log as an error.
    app.add_exception_handler(DBAPIError, _database_handler)
    app.add_exception_handler(PoolTimeout, _database_handler)
    app.add_exception_handler(Exception, _unexpected_handler)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for the given problem statuses."""
    descriptions = {
        400: "Malformed JSON",
        401: "Missing or invalid credentials",
        403: "The credential's role may not call this",
        404: "No such resource visible to the caller",
        408: "The request body did not arrive in time",
        409: "Conflicts with the current state or an existing resource",
        413: "Body too large",
        415: "Body is not application/json",
        422: "The request is not valid; each offending field is named",
        429: "Too many requests, or too many failed authentications, from this client or address; see Retry-After",
        503: "Temporarily unavailable",
    }
    return {
        status: {
            "description": descriptions.get(status, "Problem"),
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}},
        }
        for status in statuses
    }
