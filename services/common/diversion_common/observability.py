"""Structured logs without personal data, each line carrying the request id it belongs to.

Every line is one JSON object rendered by ``structlog``: ours, and those of the libraries
(uvicorn, alembic, APScheduler, Python's warnings) through its ``ProcessorFormatter``.
The request id is ``asgi-correlation-id``'s: the caller's ``X-Request-ID`` when it is a UUID
(nothing else, so a caller cannot put a name in our logs), else a new one; it is returned on
the response, stored on the messages and deliveries a call causes, and bound again by the
relay and the delivery workers while they handle them (``handling``), so one id follows a
case from the police system to the provider and back.

Log lines carry ids, routes, statuses and timings only: never a request body, a query
string, a raw path, an exception's message or a header value other than the id.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import logging
import re
import sys
import time
import traceback
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import structlog
from asgi_correlation_id import CorrelationIdMiddleware, correlation_id
from asgi_correlation_id.middleware import is_valid_uuid4
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from diversion_common.reference import is_reference_code

REQUEST_ID_HEADER = "X-Request-ID"
# Loggers of the libraries that write while we serve, migrate or schedule: all of theirs go out
# as JSON at our level; any other library's only from WARNING.
_LIBRARY_LOGGERS = ("uvicorn", "alembic", "apscheduler")

access_log = structlog.get_logger("diversion.access")
error_log = structlog.get_logger("diversion.errors")


def current_request_id() -> str | None:
    """The id of the request (or of the message a worker handles) this code runs for."""
    return correlation_id.get()


@contextmanager
def handling(request_id: str | None) -> Iterator[None]:
    """Work done for a stored message or delivery: its log lines, and whatever it causes, carry its id."""
    token = correlation_id.set(request_id)
    try:
        yield
    finally:
        correlation_id.reset(token)


def valid_request_id(value: str) -> bool:
    """A UUID (any form): an id a caller sends is kept only then."""
    return is_valid_uuid4(value)


def canonical_request_id(value: str) -> str:
    return str(uuid.UUID(value))


def request_id_middleware() -> dict[str, Any]:
    """``CorrelationIdMiddleware``'s options: our header, UUIDs only, stored in canonical form."""
    return {
        "header_name": REQUEST_ID_HEADER,
        "generator": lambda: str(uuid.uuid4()),
        "validator": valid_request_id,
        "transformer": canonical_request_id,
    }


# --- rendering --------------------------------------------------------------------


def _add_request_id(_logger: Any, _method: str, event: dict[str, Any]) -> dict[str, Any]:
    event.setdefault("request_id", correlation_id.get())
    return event


def _error_type_only(_logger: Any, _method: str, event: dict[str, Any]) -> dict[str, Any]:
    """A library's exception is logged as its type: its message and traceback can hold request data."""
    exc_info = event.pop("exc_info", None)
    event.pop("stack_info", None)
    if exc_info is True:  # logger.exception(...): the error being handled
        exc_info = sys.exc_info()
    if isinstance(exc_info, BaseException):
        event.setdefault("error_type", type(exc_info).__name__)
    elif isinstance(exc_info, tuple) and exc_info[0] is not None:
        event.setdefault("error_type", exc_info[0].__name__)
    return event


_FIRST = ("time", "level", "logger", "message", "request_id")


def _in_reading_order(_logger: Any, _method: str, event: dict[str, Any]) -> dict[str, Any]:
    """When, how bad, whose, what and for which request first; the line's own fields after."""
    return {**{key: event[key] for key in _FIRST if key in event}, **event}


_SHARED: list[Any] = [
    structlog.contextvars.merge_contextvars,
    _add_request_id,
    structlog.stdlib.add_logger_name,
    structlog.stdlib.add_log_level,
    structlog.processors.TimeStamper(fmt="iso", utc=True, key="time"),
    _error_type_only,
]


# Ours go through the standard library's loggers, so one set of handlers (configure_logging's,
# or a test's) sees every line; set at import, so a line logged before that is never plain text.
structlog.configure(
    processors=[structlog.stdlib.filter_by_level, *_SHARED, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
    logger_factory=structlog.stdlib.LoggerFactory(),
    wrapper_class=structlog.stdlib.BoundLogger,
    cache_logger_on_first_use=True,
)


class JsonFormatter(structlog.stdlib.ProcessorFormatter):
    """One JSON object per record, ours (structlog's) or a library's; ``message`` is the event."""

    def __init__(self) -> None:
        super().__init__(
            # A library's record: its message and the same fields as ours, none of its extras
            # (uvicorn's color_message repeats the message with terminal colours).
            foreign_pre_chain=_SHARED,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.EventRenamer("message"),
                _in_reading_order,
                structlog.processors.JSONRenderer(default=str),
            ],
        )


def configure_logging(level: str = "INFO") -> None:
    """Every log line to stderr is one JSON object: ours, uvicorn's, alembic's, APScheduler's, and any
    other library's warnings (and Python's warnings), so a log reader never meets plain text."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    for name in ("diversion", *_LIBRARY_LOGGERS):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(level)
        logger.propagate = False
    for name in ("uvicorn.error", "uvicorn.access"):
        # uvicorn gives these handlers of their own (plain text): theirs go through "uvicorn" instead.
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    # Any other library's warnings, and Python's own (captured into "py.warnings"); the root's
    # other handlers (a test runner's, say) are left in place.
    warnings_handler = logging.StreamHandler()
    warnings_handler.setFormatter(JsonFormatter())
    warnings_handler.setLevel(logging.WARNING)
    root = logging.getLogger()
    root.handlers[:] = [h for h in root.handlers if not isinstance(h.formatter, JsonFormatter)] + [warnings_handler]
    logging.captureWarnings(True)


def rendered(record: logging.LogRecord) -> dict[str, Any]:
    """A record as its log line says it (for tests and tools reading captured records)."""
    return json.loads(JsonFormatter().format(record))


_OUR_PACKAGES = frozenset({"diversion_common", "referral_api", "provider_gateway", "diversion_cli"})
_OUR_DELIVERY_ID = re.compile(r"^msg_[0-9a-f]{32}$")
_REFERENCE_PARAMETERS = frozenset({"force", "court", "code"})


def our_frames(error: BaseException) -> list[str]:
    """Where the error passed through our code: module, function and line, never values.

    Library frames are left out: they add nothing we can act on, and the
    exception's message (which can hold a request's data) is never included.
    """
    roots = _our_package_roots()
    frames = []
    for frame in traceback.extract_tb(error.__traceback__):
        path = Path(frame.filename)
        for package, root in roots.items():
            if path.is_relative_to(root):
                module = ".".join((package, *path.relative_to(root).with_suffix("").parts))
                frames.append(f"{module}:{frame.name}:{frame.lineno}")
                break
    return frames


@functools.cache
def _our_package_roots() -> dict[str, Path]:
    roots = {}
    for package in _OUR_PACKAGES:
        spec = importlib.util.find_spec(package)
        if spec is not None and spec.submodule_search_locations:
            roots[package] = Path(next(iter(spec.submodule_search_locations)))
    return roots


def error_type(error: BaseException) -> str:
    kind = type(error)
    return kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"


def log_unexpected(logger: Any, error: BaseException, route: str | None) -> None:
    """Log an unexpected error as its type and our stack: its message could hold request data."""
    logger.error("unhandled error", error_type=error_type(error), stack=our_frames(error), route=route)


def validated_ids(path_params: dict[str, object] | None) -> dict[str, str] | None:
    """The path parameters that are ids we issue (UUIDs, delivery ids) or reference codes (a force,
    a court, a district: parameters so named, of a code's shape).

    Anything else is what a client typed: it may be a name, so it is never logged or stored.
    """
    kept = {}
    for name, value in (path_params or {}).items():
        text = str(value)
        try:
            kept[name] = str(uuid.UUID(text))
            continue
        except ValueError:
            pass
        if _OUR_DELIVERY_ID.match(text) or (name in _REFERENCE_PARAMETERS and is_reference_code(text)):
            kept[name] = text
    return kept or None


def route_template(scope: Scope) -> str | None:
    """The template of the route the call was for, e.g. /v1/referrals/{case_id}; never the raw path.

    A call refused before routing (no key, a throttle) is matched here, so its record names it too.
    """
    route = scope.get("route")
    if route is not None:
        return getattr(route, "path", None)
    if "app" not in scope or scope.get("type") != "http":
        return None
    path = scope["path"]
    return next((template for pattern, template in route_patterns(scope["app"]) if pattern.match(path)), None)


def route_patterns(app: object) -> list[tuple[re.Pattern[str], str]]:
    """Every route's template with its pattern, once per app (routes are set before it serves)."""
    state = getattr(app, "state", None)
    patterns = getattr(state, "route_patterns", None)
    if patterns is None:
        from fastapi.routing import iter_route_contexts
        from starlette.routing import compile_path

        templates = [context.path for context in iter_route_contexts(getattr(app, "routes", []))]
        patterns = [(compile_path(template)[0], template) for template in templates if template]
        if state is not None:
            state.route_patterns = patterns
    return patterns


class AccessLog:
    """One line per call (method, route template, status, duration, client, the request id).

    It is also the last line for an unexpected error: the error is logged as its type and
    our stack, and answered with a 500 problem (which still carries the request id); it never
    reaches the server, which would print the exception's message in a traceback.
    """

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_noting_status(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        except Exception as error:  # noqa: BLE001 - the last line: nothing may escape to the server
            status = 500
            log_unexpected(error_log, error, route_template(scope))
            if not response_started:
                await _internal_error(scope, receive, send_noting_status)
        finally:
            access_log.info(
                "request",
                service=self.service,
                method=scope["method"],
                route=route_template(scope),
                # Validated ids only (case, provider, delivery): which record was read or changed, by whom.
                path_params=validated_ids(scope.get("path_params")),
                status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 2),
                client_id=scope.get("state", {}).get("client_id"),
            )


def add_request_logging(app: Any, service: str) -> None:
    """The access log inside the request id (so its line, and a last-resort 500, carry it)."""
    app.add_middleware(AccessLog, service=service)
    app.add_middleware(CorrelationIdMiddleware, **request_id_middleware())


async def _internal_error(scope: Scope, receive: Receive, send: Send) -> None:
    from starlette.requests import Request

    from diversion_common.problems import Problem, problem_response

    await problem_response(Problem(), Request(scope))(scope, receive, send)
