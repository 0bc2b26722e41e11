"""The time-based breach rules, checked on a schedule: reminders, overdue deadlines, late reviews.

Each case carries the time its next rule falls due (``next_deadline_at``, indexed), so a
check reads only the cases that are due: nothing, most of the time. Several processes may
check at once: each case is taken under a row lock that the others skip (PostgreSQL's
SKIP LOCKED), and the facts' unique source ids make a second writer's insert fail rather
than repeat a breach (SQLite, where writes are serialised anyway).

APScheduler runs the check inside the service (one run at a time per process, missed runs
coalesced); ``diversion-link breaches run-checks`` runs it once, on the real clock. What a check
would do at another time is only ever previewed (``preview_checks``, the CLI's ``--dry-run
--now``): the rules run in a transaction that is rolled back, so nothing dated in the future
is ever recorded. ``run_checks`` takes a clock for the tests that run it in process.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session
import structlog

from diversion_common import actors
from diversion_common.database import as_utc, utcnow
from diversion_common.heartbeat import Heartbeat
from referral_api import metrics
from referral_api.case_events.recording import apply_breach_rules
from referral_api.case_log.service import facts_of
from referral_api.cases.tables import Case
from referral_api.lifecycle.facts import Fact

log = structlog.get_logger("diversion.referral_api.breaches.scheduler")

BATCH = 200


@dataclass
class CheckRun:
    due: int = 0  # cases found due
    checked: int = 0  # of which this process checked (others were taken by another process)


def _due_case_ids(engine: Engine, now: datetime, after: set[uuid.UUID]) -> list[uuid.UUID]:
    with Session(engine) as session:
        query = select(Case.id).where(Case.next_deadline_at <= now).order_by(Case.next_deadline_at, Case.id).limit(BATCH + len(after))  # type: ignore[operator, arg-type]
        return [case_id for case_id in session.scalars(query) if case_id not in after][:BATCH]


# Called in a checked case's transaction, before it commits: an operator's run audits each case there.
AuditCase = Callable[[Session, uuid.UUID], None]


def check_case(engine: Engine, case_id: uuid.UUID, now: datetime, actor: str, audit: AuditCase | None = None) -> bool:
    """Apply the rules to one due case; False if another process has it or it is no longer due."""
    with Session(engine, expire_on_commit=False) as session:
        case = session.scalars(select(Case).where(Case.id == case_id).with_for_update(skip_locked=True)).first()
        if case is None or case.next_deadline_at is None or as_utc(case.next_deadline_at) > now:
            return False
        try:
            # A second writer's duplicate fact fails at the first flush (inside apply_breach_rules), not only at commit.
            apply_breach_rules(session, case, now, actor=actor)
            if audit is not None:
                audit(session, case_id)
            session.commit()
        except IntegrityError:
            session.rollback()  # another process recorded the same rule's fact first
            return False
        return True


def run_checks(engine: Engine, now: datetime | None = None, *, actor: str = actors.SCHEDULER, audit: AuditCase | None = None) -> CheckRun:
    """Check every case due at ``now`` (default: the clock), each once; the facts added name ``actor``."""
    # In UTC, as everything is stored: SQLite compares the stored wall-clock text, so the same
    # instant given in another offset (the CLI's --now) would find the wrong cases.
    now = as_utc(now) if now else utcnow()
    run = CheckRun()
    seen: set[uuid.UUID] = set()
    while batch := _due_case_ids(engine, now, seen):
        for case_id in batch:
            seen.add(case_id)
            run.due += 1
            run.checked += check_case(engine, case_id, now, actor, audit)
    if run.due:
        log.info("breach checks", due=run.due, checked=run.checked)
    return run


@dataclass
class CasePreview:
    case_id: uuid.UUID
    facts: list[Fact] = field(default_factory=list)  # what the rules would record, in order


def preview_case(engine: Engine, case_id: uuid.UUID, now: datetime, actor: str) -> CasePreview:
    """What checking one case at ``now`` would record; nothing is kept (the transaction is rolled back)."""
    with Session(engine) as session:
        case = session.get(Case, case_id)
        preview = CasePreview(case_id)
        if case is None:
            return preview
        try:
            before = len(facts_of(session, case_id))
            apply_breach_rules(session, case, now, actor=actor)
            preview.facts = facts_of(session, case_id)[before:]
        except IntegrityError:
            pass  # a real run recorded the same rule's fact meanwhile: nothing more would be
        finally:
            session.rollback()
        return preview


def preview_checks(engine: Engine, now: datetime, actor: str) -> list[CasePreview]:
    """What a check at ``now`` (past or future) would record, case by case; writes nothing."""
    now = as_utc(now)
    previews: list[CasePreview] = []
    seen: set[uuid.UUID] = set()
    while batch := _due_case_ids(engine, now, seen):
        for case_id in batch:
            seen.add(case_id)
            previews.append(preview_case(engine, case_id, now, actor))
    return previews


class BreachScheduler:
    """The checks on a timer, inside a service process (start/stop like a BackgroundWorker)."""

    def __init__(self, engine: Engine, interval_seconds: float, clock: Callable[[], datetime] = utcnow) -> None:
        self.engine, self.clock = engine, clock
        self.heartbeat = Heartbeat("breach_scheduler", interval_seconds)
        self._scheduler = BackgroundScheduler(timezone="UTC")
        self._scheduler.add_job(
            self.run_once, IntervalTrigger(seconds=interval_seconds), id="breach-checks",
            max_instances=1, coalesce=True, misfire_grace_time=None,
        )

    def run_once(self) -> CheckRun:
        started = time.perf_counter()
        try:
            run = run_checks(self.engine, self.clock(), actor=actors.SCHEDULER)
        except Exception:  # the next run tries again; the error is logged, never lost silently
            log.exception("breach checks failed")
            metrics.SCHEDULER_FAILURES.inc()
            return CheckRun()
        finally:
            self.heartbeat.beat()
        # Only a run that finished counts as run: the "not run" alert also catches one that keeps failing.
        metrics.SCHEDULER_LAST_DURATION.set(time.perf_counter() - started)
        metrics.SCHEDULER_CASES.set(run.due)
        metrics.SCHEDULER_LAST_RUN.set(time.time())
        return run

    def start(self) -> None:
        metrics.register_scheduler_metrics()
        self.heartbeat.beat(passed=False)
        self._scheduler.start()

    def stop(self) -> None:
        self._scheduler.shutdown(wait=True)
