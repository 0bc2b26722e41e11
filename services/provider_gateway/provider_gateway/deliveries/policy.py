"""Delivery rules: what an answer means, when to try again, when to pause a provider.

Pure functions, no I/O. The numbers are configurable defaults (see config.py).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class Outcome(StrEnum):
    delivered = "delivered"
    retry = "retry"  # timeouts, connection errors, 408, 429, 5xx
    rejected = "rejected"  # any other answer: retrying would not help


def classify(status_code: int | None) -> Outcome:
    """``None`` stands for no answer at all (timeout, refused connection)."""
    if status_code is None:
        return Outcome.retry
    if 200 <= status_code < 300:
        return Outcome.delivered
    if status_code in (408, 429) or status_code >= 500:
        return Outcome.retry
    return Outcome.rejected


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential back-off with jitter over a bounded schedule.

    With the defaults (1 s doubling to a 2 h cap, 24 attempts) the last try is
    about 24 hours after the first; then the delivery is dead.
    """

    base_seconds: float = 1.0
    cap_seconds: float = 2 * 60 * 60
    max_attempts: int = 24
    max_retry_after_seconds: float = 60 * 60

    def delay(self, attempts_made: int, retry_after: float | None = None, rng: random.Random | None = None) -> timedelta | None:
        """How long to wait before the next try, or None when the schedule is spent."""
        if attempts_made >= self.max_attempts:
            return None
        if retry_after is not None:
            return timedelta(seconds=min(max(retry_after, 0.0), self.max_retry_after_seconds))
        ceiling = min(self.cap_seconds, self.base_seconds * 2 ** (attempts_made - 1))
        # "Equal jitter": at least half the back-off, so retries never bunch at zero.
        return timedelta(seconds=(rng or random).uniform(ceiling / 2, ceiling))

    def total_schedule(self) -> timedelta:
        return timedelta(seconds=sum(min(self.cap_seconds, self.base_seconds * 2 ** (n - 1)) for n in range(1, self.max_attempts)))


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Retry-After as seconds, from either of its forms (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max((when - now).total_seconds(), 0.0)


@dataclass(frozen=True)
class CircuitPolicy:
    """After ``failure_threshold`` failures in a row a provider is paused; after the
    pause one delivery probes it; an answer resumes it, another failure pauses it longer."""

    failure_threshold: int = 5
    pause_seconds: float = 30.0
    max_pause_seconds: float = 15 * 60

    def pause_after(self, consecutive_failures: int) -> timedelta | None:
        if consecutive_failures < self.failure_threshold:
            return None
        doublings = consecutive_failures - self.failure_threshold
        return timedelta(seconds=min(self.max_pause_seconds, self.pause_seconds * 2**doublings))

    def is_probing(self, consecutive_failures: int) -> bool:
        """A provider past the threshold gets one delivery at a time until it answers."""
        return consecutive_failures >= self.failure_threshold
