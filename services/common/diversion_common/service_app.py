"""The parts every service's FastAPI app has: problems, limits, ids, logging, OpenAPI."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from sqlalchemy import Engine
from fastapi.openapi.utils import get_openapi

from diversion_common.admission import AdmissionGate
from diversion_common.api_docs import install_docs
from diversion_common.audit.middleware import AuditMiddleware
from diversion_common.auth import roles_of
from diversion_common.audit.tables import AuditCaseFields, AuditRecordFields
from diversion_common.abuse_limits import AbuseLimitSettings
from diversion_common.authentication_gate import AddressThrottle, AuthenticationGate
from diversion_common.credentials import ClientFields
from diversion_common.database import CallsHoldTheirOwnConnections, key_check_engine, make_engine
from diversion_common.metrics import instrument
from diversion_common.messaging import OutboxFields, OutboxRelay, OutcomeHook, Sender, http_sender
from diversion_common.health import install_health_routes
from diversion_common.internal_listener import InternalListener, ListenerGuard, with_internal_listener
from diversion_common.known_paths import UnknownPathGuard
from diversion_common.no_store import NoStoreMiddleware
from diversion_common.observability import add_request_logging, configure_logging
from diversion_common.problems import ProblemDetails, install_problem_handlers, problem_responses
from diversion_common.rate_limits import RateLimits
from diversion_common.request_limits import RequestLimitsMiddleware
from diversion_common.slow_clients import configure_header_read_timeout
from diversion_common.start_up import start_up_objects_frozen


def create_service_app(
    *,
    name: str,
    title: str,
    description: str,
    lifespan: Callable[[FastAPI], Any],
    max_body_bytes: int,
    log_level: str,
    audit_tables: tuple[type[AuditRecordFields], type[AuditCaseFields]],
    client_table: type[ClientFields],
    abuse_limits: AbuseLimitSettings,
    internal_listener: InternalListener | None = None,
) -> FastAPI:
    """``internal_listener``: serve /internal/ there only (diversion_common/internal_listener.py)."""
    configure_logging(log_level)
    if internal_listener is not None:
        lifespan = with_internal_listener(lifespan, internal_listener)
    lifespan = _frozen_once_started(lifespan)
    # /docs from this machine's files, not a CDN (diversion_common/api_docs.py); no ReDoc, a CDN page too.
    app = FastAPI(title=title, description=description, version="1.0.0", lifespan=lifespan, docs_url=None, redoc_url=None)
    install_docs(app)
    install_problem_handlers(app)
    configure_header_read_timeout(abuse_limits.header_read_timeout_seconds)
    rate_limits = RateLimits(
        per_client=abuse_limits.rate_limit_per_client,
        per_address=abuse_limits.rate_limit_per_address,
        failed_auth=abuse_limits.rate_limit_failed_auth,
    )
    app.add_middleware(
        RequestLimitsMiddleware,
        max_body_bytes=max_body_bytes,
        body_read_timeout_seconds=abuse_limits.body_read_timeout_seconds,
    )
    # The key is checked before any body is read, and before the limits above (which depend on who calls).
    app.add_middleware(AuthenticationGate, client_table=client_table, limits=rate_limits)
    # Before the key is checked: a path no route serves is a 404, not a 401.
    app.add_middleware(UnknownPathGuard)
    if internal_listener is not None:
        # Before the key is checked: on the public port, /internal/ is not there at all.
        app.add_middleware(ListenerGuard)
    # Inside the request id (it records it), outside everything that can refuse a call.
    app.add_middleware(AuditMiddleware, record_table=audit_tables[0], case_table=audit_tables[1])
    # Outside the audit and the key check: a call waits for its place before it needs a thread or the database.
    app.add_middleware(AdmissionGate)
    # Outside the audit: a throttled flood is refused without any database work.
    app.add_middleware(AddressThrottle, limits=rate_limits)
    instrument(app, served=internal_listener is not None)  # every call counted; /metrics on the internal listener
    add_request_logging(app, service=name)  # the X-Request-ID (asgi-correlation-id) and the access log
    app.add_middleware(NoStoreMiddleware)  # even the last-resort 500 carries it
    app.add_middleware(CallsHoldTheirOwnConnections)  # outermost: before anything reads the database

    install_health_routes(app, name)  # /health, /health/live, /health/ready (diversion_common/health.py)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            schemas = schema.setdefault("components", {}).setdefault("schemas", {})
            schemas["ProblemDetails"] = ProblemDetails.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas.update(schemas["ProblemDetails"].pop("$defs", {}))
            # FastAPI documents its own 422 shape; ours is the problem document.
            for path in schema.get("paths", {}).values():
                for operation in path.values():
                    # What the gate and the request limits may answer, for any operation.
                    if operation.get("security"):
                        operation["responses"].setdefault("429", problem_responses(429)[429])
                    if operation.get("requestBody"):
                        operation["responses"].setdefault("408", problem_responses(408)[408])
                    response = operation.get("responses", {}).get("422")
                    if response and "application/json" in response.get("content", {}):
                        response["content"] = {
                            "application/problem+json": {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}
                        }
            _state_roles(app, schema)
            for unused in ("HTTPValidationError", "ValidationError"):
                schemas.pop(unused, None)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def _frozen_once_started(lifespan: Callable[[FastAPI], Any]) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """The lifespan, with what the process holds once started left out of the collector's full passes."""

    @asynccontextmanager
    async def frozen(app: FastAPI) -> AsyncIterator[None]:
        async with lifespan(app):
            with start_up_objects_frozen():
                yield

    return frozen


def _state_roles(app: FastAPI, schema: dict[str, Any]) -> None:
    """Each operation says which roles may call it (``x-roles``, and in words): any other key is a 403."""
    # Each operation as the app serves it: included routers' prefixes and dependencies applied.
    for route in iter_route_contexts(app.routes):
        if not isinstance(route.original_route, APIRoute):
            continue
        roles = roles_of(route.dependant)
        if roles is None:
            continue
        for method in route.methods or ():
            operation = schema.get("paths", {}).get(route.path, {}).get(method.lower())
            if operation is None:
                continue
            operation["x-roles"] = [role.value for role in roles]
            said = f"Callers: {', '.join(role.value for role in roles)} (any other role: 403)."
            operation["description"] = f"{operation['description']}\n\n{said}" if operation.get("description") else said


def engine_and_relay_lifespan(
    database_url: str,
    outbox_table: type[OutboxFields],
    *,
    peer_url: str,
    peer_api_key: str | None,
    poll_seconds: float,
    background: Callable[[Engine], list[Any]] | None = None,
    on_outcome: OutcomeHook | None = None,
    peer_sender: Sender | None = None,
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Open the service's engine and, when it has a key for its peer, run its outbox relay.

    ``background`` makes any other workers (objects with start() and stop()) to run alongside.
    ``peer_sender`` replaces the HTTP sender built from the URL and key (tests link two apps in process).
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(database_url)
        app.state.engine = engine
        app.state.key_engine = key_check_engine(engine)
        relay = None
        if peer_sender is not None or peer_api_key:
            sender = peer_sender or http_sender(peer_url, peer_api_key or "")
            relay = OutboxRelay(engine, outbox_table, sender, poll_interval=poll_seconds, on_outcome=on_outcome)
            relay.start()
        app.state.relay = relay
        workers = background(engine) if background else []
        for worker in workers:
            worker.start()
        # What /health/ready checks: this database, and the loops running in this process.
        app.state.database_url = database_url
        app.state.heartbeats = [loop.heartbeat for loop in [relay, *workers] if loop is not None]
        try:
            yield
        finally:
            for worker in workers:
                worker.stop()
            if relay is not None:
                relay.stop()
            if app.state.key_engine.pool is not engine.pool:  # SQLite: a pool of its own
                app.state.key_engine.dispose()
            engine.dispose()

    return lifespan
