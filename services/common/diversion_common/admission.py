"""How many calls are inside the service at once: the rest wait their turn in the event loop.

A synchronous route runs in a thread of anyio's shared pool (40 threads by default), and so do its
dependencies, the key check, the response's validation and the audit write. Under a load
of more concurrent calls than that, every thread could end up waiting for a database
connection (on SQLite the only one) while the call holding it waited for a thread to
validate its response: nothing moved until the pool's wait ran out and dozens of calls
answered 503 (the stack dumps in docs/ARCHITECTURE.md, "Under load").

So a call takes a place here before anything else that needs a thread or the database.
Places are fewer than the threads, so a call inside always gets the thread it asks for;
one waiting holds nothing but its place in a first-come queue. The other service's calls
(``/internal/``) have places of their own: they never queue behind clients' calls.
/health, /health/live and /health/ready take no place at all.
"""

from __future__ import annotations

import anyio
import anyio.to_thread
from starlette.types import ASGIApp, Receive, Scope, Send

from diversion_common.database import pool_connections
from diversion_common.health import HEALTH_PATHS
from diversion_common.internal_listener import INTERNAL_PREFIX


class AdmissionGate:
    """Sized from the service's database pool at the first call (the engine is made by the lifespan)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.places: tuple[anyio.Semaphore, anyio.Semaphore] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        engine = getattr(scope["app"].state, "engine", None) if "app" in scope else None
        if scope["type"] != "http" or scope["path"] in HEALTH_PATHS or engine is None:
            await self.app(scope, receive, send)
            return
        if self.places is None:
            # The pool FastAPI and Starlette share: its size as this process set it.
            threads = int(anyio.to_thread.current_default_thread_limiter().total_tokens)
            public, internal = places_for(pool_connections(engine), threads, one_writer=engine.dialect.name == "sqlite")
            self.places = anyio.Semaphore(public, fast_acquire=True), anyio.Semaphore(internal, fast_acquire=True)
        places = self.places[1] if scope["path"].startswith(INTERNAL_PREFIX) else self.places[0]
        async with places:
            await self.app(scope, receive, send)


# On a database server, how many clients' calls a process runs at once (docs/PERFORMANCE.md,
# "Fewer calls at once on PostgreSQL"): under 60 mixed clients on this 2-core machine, 8 places
# against 20 kept the throughput and brought /health's worst from 275-443 ms to 75-195 ms.
CALLS_AT_ONCE_ON_A_SERVER = 8


def places_for(pool_connections: int, threads: int, *, one_writer: bool) -> tuple[int, int]:
    """Places for clients and for the other service.

    With one writing connection (SQLite), half the threads for clients, whatever the pool: a
    call spends much of its time without the database (the key, parsing, the answer, a
    provider's event waiting on referral_api), and one waiting for the connection waits in the
    pool's first-come queue, which hands it over at once; fewer places leave the writer idle.
    On a database server the calls share the CPU with it, and past a few at once they only
    queue for the GIL and the server's cores: each handover makes the event loop (and so
    /health) wait behind them, and the server's backends contend. The other service's few
    places, and the threads left over, keep the deadlock away: a call inside never waits for
    a thread.
    """
    internal = 4
    if one_writer:
        public = max(threads // 2, min(pool_connections, threads - internal - 8))
    else:
        public = min(pool_connections, CALLS_AT_ONCE_ON_A_SERVER, threads - internal - 8)
    assert 0 < public and public + internal < threads
    return public, internal
