"""Request and correlation ids on every call, and structured logs without personal data.

Log lines carry ids, routes, statuses and timings only: never a request body,
a query string, a raw path or a header value other than the ids. The request id
is always ours; an id the client sent is kept beside it as the correlation id.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import logging
import re
import time
import traceback
import uuid
from contextvars import ContextVar
from pathlib import Path

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from diversion_common.reference import FORCES

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
correlation_id_var: ContextVar[str | None] = ContextVar("correlation_id", default=None)

_ID_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# uvicorn's "color_message" repeats the message with terminal colours.
_STANDARD_RECORD_KEYS = set(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime", "color_message"}
# Loggers of the libraries that write while we serve or migrate: theirs go out as JSON too.
_LIBRARY_LOGGERS = ("uvicorn", "alembic")

access_log = logging.getLogger("diversion.access")
error_log = logging.getLogger("diversion.errors")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or request_id_var.get(),
            "correlation_id": getattr(record, "correlation_id", None) or correlation_id_var.get(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD_RECORD_KEYS})
        if record.exc_info and record.exc_info[0] is not None:
            entry["error_type"] = record.exc_info[0].__name__
        return json.dumps(entry, default=str)


def configure_logging(level: str = "INFO") -> None:
    """Every log line to stderr is one JSON object: ours, uvicorn's, alembic's, and any other
    library's warnings (and Python's warnings), so a log reader never meets plain text."""
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


def _client_id_header(value: str | None) -> str | None:
    """An id the client sent, when it is one we can log safely."""
    return value if value and _ID_PATTERN.match(value) else None


_OUR_PACKAGES = frozenset({"diversion_common", "referral_api", "provider_gateway", "diversion_cli"})
_OUR_DELIVERY_ID = re.compile(r"^msg_[0-9a-f]{32}$")


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


def log_unexpected(logger: logging.Logger, error: BaseException, route: str | None) -> None:
    """Log an unexpected error as its type and our stack: its message could hold request data."""
    logger.error(
        "unhandled error",
        extra={
            "error_type": error_type(error),
            "stack": our_frames(error),
            "route": route,
            "request_id": request_id_var.get(),
            "correlation_id": correlation_id_var.get(),
        },
    )


def validated_ids(path_params: dict[str, object] | None) -> dict[str, str] | None:
    """The path parameters that are ids we issue (UUIDs, delivery ids) or reference codes (forces).

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
        if _OUR_DELIVERY_ID.match(text) or text in FORCES:
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


class RequestContextMiddleware:
    """Assigns our X-Request-ID (the client's id becomes X-Correlation-ID), echoes both, logs the call.

    It is also the last line for an unexpected error: the error is logged as its type and
    our stack, and answered with a 500 problem carrying the ids; it never reaches the server,
    which would print the exception's message in a traceback.
    """

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        # Our own id, always: a client's id is not unique and must not name our records.
        request_id = str(uuid.uuid4())
        client_correlation_id = _client_id_header(headers.get("x-correlation-id")) or _client_id_header(
            headers.get("x-request-id")
        )
        correlation_id = client_correlation_id or request_id
        scope.setdefault("state", {})["client_correlation_id"] = client_correlation_id
        request_token = request_id_var.set(request_id)
        correlation_token = correlation_id_var.set(correlation_id)
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_ids(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + [
                    (b"x-request-id", request_id.encode()),
                    (b"x-correlation-id", correlation_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_ids)
        except Exception as error:  # noqa: BLE001 - the last line: nothing may escape to the server
            status = 500
            log_unexpected(error_log, error, route_template(scope))
            if not response_started:
                await _internal_error(scope, receive, send_with_ids)
        finally:
            access_log.info(
                "request",
                extra={
                    "service": self.service,
                    "method": scope["method"],
                    "route": route_template(scope),
                    # Validated ids only (case, provider, delivery): which record was read or changed, by whom.
                    "path_params": validated_ids(scope.get("path_params")),
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    "client_id": scope.get("state", {}).get("client_id"),
                    "request_id": request_id,
                    "correlation_id": correlation_id,
                },
            )
            request_id_var.reset(request_token)
            correlation_id_var.reset(correlation_token)


async def _internal_error(scope: Scope, receive: Receive, send: Send) -> None:
    from starlette.requests import Request

    from diversion_common.problems import Problem, problem_response

    await problem_response(Problem(), Request(scope))(scope, receive, send)
