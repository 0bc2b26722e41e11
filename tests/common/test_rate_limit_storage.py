"""The rate limits' memory storage: no thread per hit, expired entries still swept (no database)."""

from __future__ import annotations

import threading
import time

import limits.storage.memory
import pytest

from diversion_common.rate_limits import RateLimits, SweptMemoryStorage


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def time(self) -> float:
        return self.now


def test_hits_start_no_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    limits_ = RateLimits(per_client="1000/minute", per_address="1000/minute", failed_auth="10/minute")
    started: list[str] = []
    original = threading.Thread.start
    monkeypatch.setattr(threading.Thread, "start", lambda thread: (started.append(thread.name), original(thread))[1])
    for _ in range(15):
        # Spaced past the library's 10 ms sweep delay: its own storage started a thread for each.
        assert limits_.take_for_client("client") is None
        assert limits_.take_for_address("127.0.0.1") is None
        time.sleep(0.02)
    assert started == []


def test_expired_entries_are_swept_on_the_callers_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    monkeypatch.setattr(limits.storage.memory, "time", clock)  # the library's entries' clock
    limits_ = RateLimits(per_client="5/second", per_address="1000/minute", failed_auth="10/minute")
    storage = limits_._limiter.storage
    assert isinstance(storage, SweptMemoryStorage)
    for _ in range(5):
        assert limits_.take_for_client("client") is None
    assert limits_.take_for_client("client") == 1  # the sixth within the second waits
    [key] = [key for key in storage.events if "client" in key]
    assert len(storage.events[key]) == 5

    clock.now += 2  # every entry has expired
    storage._next_sweep = 0.0  # the next hit sweeps (once a second in the service)
    assert limits_.take_for_client("client") is None
    assert len(storage.events[key]) == 1  # the five expired ones gone, the new one kept
