"""How often a client, an address, and failed authentications from an address may come.

Backed by the maintained `limits` library: moving windows (no burst at a window's edge)
kept in this process's memory. Memory, not the database, because each service runs as
one process today, and a limit that needs a database write per request would itself be
the load it is meant to stop (and could not refuse a flood without touching the database).
With several processes per service each keeps its own counts, so a client may make up to
N times the limit across N processes: then point them at a shared store (`limits` has
Redis and Memcached storages with the same limiter) instead of adding processes blindly.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter


def parse_rate_limit(value: str) -> list[RateLimitItem]:
    """`limits` notation, several joined by `;`: "1200/minute", "20 per 5 minutes", "50/second;1000/minute"."""
    items = parse_many(value)
    if not items:
        raise ValueError("a rate limit such as 1200/minute")
    return items


class SweptMemoryStorage(MemoryStorage):
    """`limits`' memory storage, its expired entries swept on the caller's thread once a second.

    The library's storage, after any hit, starts a thread to sweep 10 ms later unless one is
    running: under load a new thread every few milliseconds, and `Thread.start()` waits until the
    new thread has run, which needs the GIL. The event loop, which takes the limits, stood still
    each time behind whichever worker thread held it (a tenth of the gateway's loop thread under
    the mixed load: docs/PERFORMANCE.md). A moving window reads its entries' times, so sweeping
    only frees memory: once a second, inline, is enough.
    """

    SWEEP_SECONDS = 1.0

    def __init__(self) -> None:
        super().__init__()
        self._next_sweep = time.monotonic() + self.SWEEP_SECONDS

    # The library's hook (name-mangled), called by every hit; tests/common/test_rate_limit_storage.py
    # fails if an upgrade of `limits` stops calling it or starts threads again.
    def _MemoryStorage__schedule_expiry(self) -> None:
        now = time.monotonic()
        if now >= self._next_sweep:
            self._next_sweep = now + self.SWEEP_SECONDS
            self._MemoryStorage__expire_events()  # type: ignore[attr-defined]


class RateLimits:
    """The three limits of one service, answering in seconds to wait (None: go ahead).

    The synchronous memory storage is used from the event loop on purpose: each call is a
    few list operations under a lock, quicker than handing it to a thread (the asyncio
    storage sweeps expired entries with a thread hop per key).
    """

    def __init__(self, *, per_client: str, per_address: str, failed_auth: str) -> None:
        self._limiter = MovingWindowRateLimiter(SweptMemoryStorage())
        self._per_client = parse_rate_limit(per_client)
        self._per_address = parse_rate_limit(per_address)
        self._failed_auth = parse_rate_limit(failed_auth)

    def take_for_client(self, client_id: str) -> int | None:
        return self._take(self._per_client, "client", client_id)

    def take_for_address(self, address: str) -> int | None:
        return self._take(self._per_address, "address", address)

    def failed_auth_lockout(self, address: str) -> int | None:
        """An address that sent too many wrong keys is refused until the oldest ages out of the window."""
        for item in self._failed_auth:
            if not self._limiter.test(item, "failed-auth", address):
                return self._wait(item, "failed-auth", address)
        return None

    def record_failed_auth(self, address: str) -> None:
        for item in self._failed_auth:
            self._limiter.hit(item, "failed-auth", address)

    def _take(self, items: list[RateLimitItem], kind: str, key: str) -> int | None:
        waits = [self._wait(item, kind, key) for item in items if not self._limiter.hit(item, kind, key)]
        return max(waits) if waits else None

    def _wait(self, item: RateLimitItem, kind: str, key: str) -> int:
        reset_at = self._limiter.get_window_stats(item, kind, key).reset_time
        # Whole seconds (Retry-After's form), rounded up so a client that waits is let in.
        return max(1, math.ceil(reset_at - time.time()))
