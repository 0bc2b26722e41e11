"""Request and correlation ids on every call, and structured logs without personal data.

Log lines carry ids, routes, statuses and timings only: never a request body,
a query string or a header value other than the ids.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from contextvars import ContextVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
correlation_id_var: ContextVar[str | None] = ContextVar("correlation_id", default=None)

_ID_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_STANDARD_RECORD_KEYS = set(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}

access_log = logging.getLogger("diversion.access")


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
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger("diversion")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


def _safe_id(value: str | None) -> str:
    return value if value and _ID_PATTERN.match(value) else str(uuid.uuid4())


class RequestContextMiddleware:
    """Assigns X-Request-ID / X-Correlation-ID, echoes them, and logs the call."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        request_id = _safe_id(headers.get("x-request-id"))
        correlation_id = _safe_id(headers.get("x-correlation-id") or request_id)
        request_token = request_id_var.set(request_id)
        correlation_token = correlation_id_var.set(correlation_id)
        started = time.perf_counter()
        status = 500

        async def send_with_ids(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + [
                    (b"x-request-id", request_id.encode()),
                    (b"x-correlation-id", correlation_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_ids)
        finally:
            route = scope.get("route")
            access_log.info(
                "request",
                extra={
                    "service": self.service,
                    "method": scope["method"],
                    "route": getattr(route, "path", None),
                    # Ids only (case, provider, delivery): which record was read or changed, by whom.
                    "path_params": scope.get("path_params") or None,
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    "client_id": scope.get("state", {}).get("client_id"),
                    "request_id": request_id,
                    "correlation_id": correlation_id,
                },
            )
            request_id_var.reset(request_token)
            correlation_id_var.reset(correlation_token)
