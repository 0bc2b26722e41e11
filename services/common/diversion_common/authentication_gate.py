"""Who is calling, and how often, settled before any route reads a request body.

FastAPI reads and parses a body before it runs a route's dependencies, so checking the key
in a dependency let anyone make us read and parse a body (1 MB on /internal/) and answered
them with 422 details. Two ASGI middlewares close that:

- ``AddressThrottle`` (outermost, before the audit): refuses an address that sent too many
  wrong keys, and one that sends too many requests, with 429 and Retry-After. It touches
  no database: a flood costs a dictionary look-up, no key check and no audit row.
- ``AuthenticationGate`` (inside the audit, so its refusals are recorded): checks the bearer
  key against the service's client table, counts a wrong one against the address, applies
  the per-client limit, and leaves the ``Principal`` in the request's state, where the role
  dependencies (diversion_common.auth) take it and check the role, as before.

The other service's calls to ``/internal/`` are not a client's: its relay and each provider's
event forwarded by the gateway come under its ``service`` key, from an address it may share
with clients. A call there that authenticates as a service is never counted, neither for the
client nor for the address (the address limit waits for the key there); any other caller
of ``/internal/`` is counted against its address as anywhere else.

/health, /health/live, /health/ready and the API documents (/docs, /openapi.json) are left alone by both.
"""

from __future__ import annotations

import inspect
from typing import Any

from fastapi.security.utils import get_authorization_scheme_param
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from diversion_common.api_docs import is_api_docs
from diversion_common.auth import authenticate
from diversion_common.credentials import ClientFields, Principal, Role
from diversion_common.health import HEALTH_PATHS
from diversion_common.internal_listener import INTERNAL_PREFIX
from diversion_common.problems import Problem, TooManyRequests, Unauthenticated, problem_response
from diversion_common.rate_limits import RateLimits


def is_public(scope: Scope) -> bool:
    """The health probes and the API documents: the only paths that take no key.

    Every other path a route serves needs one; a path no route serves is a 404 before this
    gate is reached (diversion_common/known_paths.py).
    """
    app = scope["app"]
    public = {*HEALTH_PATHS, app.docs_url, app.redoc_url, app.openapi_url, app.swagger_ui_oauth2_redirect_url}
    path, root_path = scope["path"], scope.get("root_path", "")
    if root_path and path.startswith(root_path):
        path = path[len(root_path):]
    return path in public or is_api_docs(path)


def is_internal(scope: Scope) -> bool:
    return scope["path"].startswith(INTERNAL_PREFIX)


def client_address(scope: Scope) -> str:
    # uvicorn gives the peer, or the X-Forwarded-For of a proxy it trusts (FORWARDED_ALLOW_IPS).
    client = scope.get("client")
    return client[0] if client else "unknown"


async def _refuse(problem: Problem, scope: Scope, receive: Receive, send: Send) -> None:
    request = Request(scope)
    if request.headers.get("content-length", "0") != "0" or "transfer-encoding" in request.headers:
        # The body is left unread: close rather than keep a connection that still has it to come.
        problem.headers["Connection"] = "close"
    await problem_response(problem, request)(scope, receive, send)


class AddressThrottle:
    def __init__(self, app: ASGIApp, limits: RateLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # /internal/: AuthenticationGate applies the address's limits once it knows the caller is not our other service.
        if scope["type"] != "http" or is_public(scope) or is_internal(scope):
            await self.app(scope, receive, send)
            return
        address = client_address(scope)
        wait = self.limits.failed_auth_lockout(address)
        if wait is not None:
            # The key is not even looked at: a correct one waits too, from this address.
            await _refuse(TooManyRequests(wait, "Too many failed authentications from this address"), scope, receive, send)
            return
        wait = self.limits.take_for_address(address)
        if wait is not None:
            await _refuse(TooManyRequests(wait, "Too many requests from this address"), scope, receive, send)
            return
        await self.app(scope, receive, send)


class AuthenticationGate:
    def __init__(self, app: ASGIApp, client_table: type[ClientFields], limits: RateLimits) -> None:
        self.app = app
        self.client_table = client_table
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or is_public(scope):
            await self.app(scope, receive, send)
            return
        authorization = Request(scope).headers.get("authorization")
        try:
            principal = await run_in_threadpool(self._authenticate, scope["app"].state.key_engine, _bearer_key(authorization))
        except Unauthenticated as refusal:
            if authorization is not None:  # a wrong key, not a missing one
                self.limits.record_failed_auth(client_address(scope))
            if is_internal(scope):
                refusal = self._address_wait(scope) or refusal
            await _refuse(refusal, scope, receive, send)
            return
        except Exception as error:
            # Out here FastAPI's exception handlers do not run by themselves: use the app's
            # own for what it handles (a database that is down, say), as inside a route.
            handler = _app_handler_for(scope, error)
            if handler is None:
                raise
            response = handler(Request(scope), error)
            await (await response if inspect.isawaitable(response) else response)(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        state["principal"] = principal
        state["client_id"] = str(principal.client_id)
        state["client_role"] = principal.role.value
        wait = self._wait_for(principal, scope)
        if wait is not None:
            await _refuse(wait, scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _wait_for(self, principal: Principal, scope: Scope) -> TooManyRequests | None:
        if principal.role is Role.service and is_internal(scope):
            return None  # the other service of this system: never throttled as a client
        if is_internal(scope):
            refusal = self._address_wait(scope)
            if refusal is not None:
                return refusal
        wait = self.limits.take_for_client(str(principal.client_id))
        return TooManyRequests(wait, "Too many requests from this client") if wait is not None else None

    def _address_wait(self, scope: Scope) -> TooManyRequests | None:
        """AddressThrottle's limits, for a caller of /internal/ that is not our other service."""
        address = client_address(scope)
        wait = self.limits.failed_auth_lockout(address)
        if wait is not None:
            return TooManyRequests(wait, "Too many failed authentications from this address")
        wait = self.limits.take_for_address(address)
        return TooManyRequests(wait, "Too many requests from this address") if wait is not None else None

    def _authenticate(self, engine: Engine, key: str | None) -> Principal:
        with engine.connect() as connection:
            return authenticate(connection, self.client_table, key)


def _app_handler_for(scope: Scope, error: Exception) -> Any:
    handlers = scope["app"].exception_handlers
    for kind in type(error).__mro__:
        if kind is Exception:
            return None  # the last resort stays the server's
        if kind in handlers:
            return handlers[kind]
    return None


def _bearer_key(authorization: str | None) -> str | None:
    # As fastapi.security.HTTPBearer reads it.
    scheme, credentials = get_authorization_scheme_param(authorization)
    return credentials if authorization and scheme.lower() == "bearer" and credentials else None
