"""When a background loop (the outbox relay, a delivery worker, the breach scheduler) last showed life.

Each loop beats when it starts and after every pass, whether the pass found work, none, or
failed (a failure is logged, and the database's own state is /health/ready's first check):
a loop that stops beating is stuck or dead. /health/ready reads the beats of the loops its
process runs, in memory. A loop running as a process of its own (``diversion-link
gateway-worker``, ``diversion-link scheduler``) also writes each beat to a file, which the
container's health check reads (``diversion-link heartbeat-check``): a file, because such a
process serves no HTTP.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# A pass may wait on the database (a lock, a pool's wait) or on the other service (the relay's
# send has a 5 s timeout) before it ends: a loop is late only well past its own interval.
GRACE_SECONDS = 30.0
# A loop polling ten times a second writes its file at most this often.
FILE_WRITE_INTERVAL_SECONDS = 1.0


@dataclass(frozen=True)
class Beat:
    loop: str
    at: float  # seconds since the epoch
    allowed_silence: float
    passes: int

    def silence(self, now: float) -> float:
        return max(now - self.at, 0.0)

    def is_recent(self, now: float) -> bool:
        return self.silence(now) <= self.allowed_silence


class Heartbeat:
    def __init__(self, loop: str, interval_seconds: float, clock: Callable[[], float] = time.time) -> None:
        self.loop = loop
        self.allowed_silence = 3 * interval_seconds + GRACE_SECONDS
        self.clock = clock
        self.file: Path | None = None  # set for a loop that is a process of its own
        self._last: Beat | None = None
        self._written_at = float("-inf")

    def beat(self, *, passed: bool = True) -> None:
        """A sign of life: ``passed`` after a pass, not when the loop has only started."""
        now = self.clock()
        passes = (self._last.passes if self._last else 0) + (1 if passed else 0)
        self._last = Beat(self.loop, now, self.allowed_silence, passes)
        if self.file is not None and (not passed or now - self._written_at >= FILE_WRITE_INTERVAL_SECONDS):
            self._written_at = now
            write_beat(self.file, self._last)

    def last(self) -> Beat | None:
        return self._last

    def lateness(self) -> str | None:
        """Why the loop is late (for /health/ready), or None while it beats in time."""
        last, now = self._last, self.clock()
        if last is None:
            return "not started"
        if last.is_recent(now):
            return None
        return f"no pass for {last.silence(now):.0f} s (allowed {last.allowed_silence:.0f} s)"


def write_beat(path: Path, beat: Beat) -> None:
    """Replace the file in one step, so a reader never sees half of it."""
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    partial.write_text(json.dumps({"loop": beat.loop, "at": beat.at, "allowed_silence": beat.allowed_silence, "passes": beat.passes}))
    os.replace(partial, path)


def read_beat(path: Path) -> Beat:
    data = json.loads(path.read_text())
    return Beat(str(data["loop"]), float(data["at"]), float(data["allowed_silence"]), int(data["passes"]))
