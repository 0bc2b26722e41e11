"""Retention by itself: each service erases what its retention period has run out on, once a day,
inside its own process (``*_RUN_RETENTION_SCHEDULER``, at ``*_RETENTION_HOUR_UTC``).

The job is the one ``diversion-link retention purge`` runs (each service's privacy/retention.py).
Several processes may run it at once: each batch locks its cases and checks them again, so a
case is erased once. A day the process was down is caught up once when it starts again within
the day's grace; missed runs are coalesced into one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import Engine

from diversion_common.database import utcnow
from diversion_common.heartbeat import Heartbeat

log = logging.getLogger("diversion.retention")

# The service's retention job: erase what ended more than its period before ``now``.
Purge = Callable[[Engine, datetime], Any]


class DailyRetention:
    """Start/stop like a BackgroundWorker; ``run_once`` is the job."""

    def __init__(self, engine: Engine, purge: Purge, hour_utc: int, clock: Callable[[], datetime] = utcnow) -> None:
        self.engine, self.purge, self.clock = engine, purge, clock
        self.heartbeat = Heartbeat("retention", 24 * 60 * 60)  # /health/ready: a day's run not stuck for days
        self._scheduler = BackgroundScheduler(timezone="UTC")
        self._scheduler.add_job(
            self.run_once, CronTrigger(hour=hour_utc, minute=0, timezone="UTC"), id="retention",
            max_instances=1, coalesce=True, misfire_grace_time=6 * 60 * 60,
        )

    def run_once(self) -> Any:
        try:
            return self.purge(self.engine, self.clock())
        except Exception:  # tomorrow's run tries again; the error is logged, never lost silently
            log.exception("retention run failed")
            return None
        finally:
            self.heartbeat.beat()

    def next_run_at(self) -> datetime | None:
        return self._scheduler.get_job("retention").next_run_time

    def start(self) -> None:
        self.heartbeat.beat(passed=False)
        self._scheduler.start()

    def stop(self) -> None:
        self._scheduler.shutdown(wait=True)
