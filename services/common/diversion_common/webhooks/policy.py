"""Delivery rules: what an answer means, when to try again, when to pause an endpoint.

Pure functions, no I/O. The numbers are configurable defaults (each service's config.py).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from enum import StrEnum


# Doubling past this is far beyond any cap; it stops a long outage overflowing a float.
_MAX_DOUBLINGS = 62


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
        ceiling = self._backoff(attempts_made)
        # "Equal jitter": at least half the back-off, so retries never bunch at zero.
        return timedelta(seconds=(rng or random).uniform(ceiling / 2, ceiling))

    def total_schedule(self) -> timedelta:
        return timedelta(seconds=sum(self._backoff(n) for n in range(1, self.max_attempts)))

    def _backoff(self, attempts_made: int) -> float:
        # The exponent is bounded: a long schedule must not overflow a float on its way to the cap.
        return min(self.cap_seconds, self.base_seconds * 2 ** min(attempts_made - 1, _MAX_DOUBLINGS))


# Longer waits are cut to this, so that ``now + the answer`` is always a valid datetime.
LONGEST_RETRY_AFTER_SECONDS = 365 * 24 * 60 * 60.0
# ASCII digits only: str.isdigit() also takes "²" or "٣", which float() then refuses.
_DELTA_SECONDS = re.compile(r"[0-9]+")


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds from ``now``, from either form (delta-seconds or an HTTP date).

    The header comes from a server we do not control: any value that is not one of
    the two forms gives None, and this never raises. The answer is never negative
    and never more than LONGEST_RETRY_AFTER_SECONDS.
    """
    if not value:
        return None
    value = value.strip()
    if _DELTA_SECONDS.fullmatch(value):
        # float(), unlike int(), takes any number of digits (a 400-digit one is inf): no overflow.
        return min(float(value), LONGEST_RETRY_AFTER_SECONDS)
    try:
        when = parsedate_to_datetime(value)
        if when.tzinfo is None:  # "-0000": UTC, says RFC 5322
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    except Exception:  # noqa: BLE001 -- the date parser raises several kinds on odd input; all mean "no date"
        return None
    return min(max(seconds, 0.0), LONGEST_RETRY_AFTER_SECONDS)


@dataclass(frozen=True)
class CircuitPolicy:
    """After ``failure_threshold`` failures in a row an endpoint is paused; after the
    pause one delivery probes it; an answer resumes it, another failure pauses it longer."""

    failure_threshold: int = 5
    pause_seconds: float = 30.0
    max_pause_seconds: float = 15 * 60

    def pause_after(self, consecutive_failures: int) -> timedelta | None:
        if consecutive_failures < self.failure_threshold:
            return None
        doublings = min(consecutive_failures - self.failure_threshold, _MAX_DOUBLINGS)
        return timedelta(seconds=min(self.max_pause_seconds, self.pause_seconds * 2**doublings))

    def is_probing(self, consecutive_failures: int) -> bool:
        """An endpoint past the threshold gets one delivery at a time until it answers."""
        return consecutive_failures >= self.failure_threshold
