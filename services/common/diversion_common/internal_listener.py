"""The internal inbox on a listener of its own, apart from the public API.

``/internal/`` is how our two services talk (a ``service`` key, 1 MB batches). Served
on the public port, anyone who can reach the API can knock on it. With an internal port
set, the service opens a second listener from its own lifespan, in the same process
(so the relay, the workers and their wake-ups are shared, as before), and:

- the internal listener serves ``/internal/`` (and the health paths, and ``/metrics``: diversion_common/metrics.py) only;
- the public listener answers ``/internal/`` with 404, as for any unknown path
  (diversion_common/known_paths.py).

Deployments bind the internal listener to an interface the public cannot reach (the
containers' network, or loopback), and point the other service's relay at it.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from diversion_common.health import HEALTH_PATHS
from diversion_common.problems import NotFound, problem_response

INTERNAL_PREFIX = "/internal/"
_LISTENER = "diversion.listener"  # an ASGI scope key: set on requests the internal listener took


def on_internal_listener(scope: Scope) -> bool:
    """Whether the internal listener took this call (only the operators' network and our other service reach it)."""
    return scope.get(_LISTENER) == "internal"


@dataclass(frozen=True)
class InternalListener:
    host: str
    port: int


class ListenerGuard:
    """Each listener serves its own paths; anything else is a 404, as an unknown path is."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            on_internal_listener = scope.get(_LISTENER) == "internal"
            internal_path = scope["path"].startswith(INTERNAL_PREFIX)
            if internal_path != on_internal_listener and not (on_internal_listener and scope["path"] in HEALTH_PATHS):
                await problem_response(NotFound(), Request(scope))(scope, receive, send)
                return
        await self.app(scope, receive, send)


class _ListenerServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # The process's signals belong to its public server, whose shutdown stops this one.
        yield


def _bind(listener: InternalListener) -> socket.socket:
    family, kind, proto, _, address = socket.getaddrinfo(
        listener.host, listener.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if hasattr(socket, "SO_REUSEPORT"):
        # Each worker process of the service (serve --workers) binds the port too, and the kernel
        # spreads the connections among them. Only sockets that all set it share the port (on
        # Linux, of the same user): anything else on the port still fails the start-up below.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    return sock


@asynccontextmanager
async def serving_internal_listener(app: ASGIApp, listener: InternalListener) -> AsyncIterator[None]:
    """Serve ``app`` on the internal listener for as long as the context is open."""
    from diversion_common.slow_clients import KEEP_ALIVE_SECONDS, H11ProtocolWithHeaderTimeout

    async def marked(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            scope[_LISTENER] = "internal"
        await app(scope, receive, send)

    config = uvicorn.Config(
        marked,
        lifespan="off",  # the public server ran the app's lifespan: one engine, one relay
        log_config=None,
        access_log=False,
        proxy_headers=False,  # only our other service calls here, directly
        http=H11ProtocolWithHeaderTimeout,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        h11_max_incomplete_event_size=16384,
    )
    server = _ListenerServer(config)
    sock = _bind(listener)  # a port in use fails the start-up here, plainly
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()  # raises what stopped it
                raise RuntimeError("the internal listener stopped while starting")
            await asyncio.sleep(0.01)
        yield
    finally:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await task
        sock.close()


def with_internal_listener(
    lifespan: Callable[[Any], AbstractAsyncContextManager[None]], listener: InternalListener
) -> Callable[[Any], AbstractAsyncContextManager[None]]:
    """The app's lifespan, with the internal listener open inside it (after the engine, before its disposal)."""

    @asynccontextmanager
    async def combined(app: Any) -> AsyncIterator[None]:
        async with lifespan(app), serving_internal_listener(app, listener):
            yield

    return combined
