"""Storage limitation: an ended case's personal data is erased once its retention period is over.

What goes: the referral document (name, date of birth, address, contact details, the
officer, the checks, the drugs), the exact age, and the free text on the case's log (every
``note``; a cancellation's ``reason``, which a provider writes). What stays is a
content-free record: the case's ids, its dates, its status and version, pathway, district,
the police reference (the force's own key to its records), the log's facts as codes and
dates, who read the case, and, for reporting on disproportionality (a stated aim of the
scheme), sex, ethnicity and an age band instead of the age. Messages and notifications
about the case keep only their digests; one never sent is set aside unsent.

The period runs from the case's last recorded fact (``updated_at``), which for an ended case
is its end, or a late report after it: never less than the period after the end. Default:
365 days (``REFERRAL_API_RETENTION_DAYS``); see docs/SECURITY.md for why.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select
from sqlmodel import Session
import structlog

from diversion_common.contracts import TERMINAL_STATUSES, ProviderEventType, free_text_fields
from diversion_common.database import as_utc
from diversion_common.erasure import checkpoint_after_erasure, overwrite_erased_bytes, settle_messages
from diversion_common.webhooks.service import erase_settled_payloads
from diversion_common.retention_schedule import DailyRetention
from referral_api.case_log.erasure import erasure_permitted
from referral_api.case_log import service as case_log
from referral_api.case_log.tables import CaseFact
from referral_api.cases.tables import Case
from referral_api.messaging.tables import OutboxMessage
from referral_api.callbacks.tables import CallbackDelivery
from referral_api.config import Settings

log = structlog.get_logger("diversion.referral_api.retention")

# Free text on the log: written by a person, it may say anything about anyone (health included).
# Every fact's ``note``, and whatever a provider event's data model declares as written text
# (the contract's ``text()``): a new event type's free text is erased without being listed here.
FREE_TEXT_FIELDS = frozenset({"note"})
_PROVIDER_FREE_TEXT = {event_type.value: free_text_fields(event_type) for event_type in ProviderEventType}

# The bands youth justice and police statistics report by (10 is the age of criminal responsibility).
AGE_BANDS = ((10, 14), (15, 17), (18, 24), (25, 34), (35, 44), (45, 54))

BATCH = 100  # cases per transaction: a long run holds no lock for long


def age_band(age: int) -> str:
    if age < AGE_BANDS[0][0]:
        return f"under {AGE_BANDS[0][0]}"
    for low, high in AGE_BANDS:
        if low <= age <= high:
            return f"{low}-{high}"
    return f"{AGE_BANDS[-1][1] + 1}+"


def without_free_text(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    """The fact's data with its free text blanked (the keys stay, so readers find what they expect)."""
    fields = FREE_TEXT_FIELDS | _PROVIDER_FREE_TEXT.get(kind, frozenset())
    return {key: (None if key in fields else value) for key, value in data.items()}


@dataclass(frozen=True)
class RetentionRun:
    cutoff: datetime
    dry_run: bool
    case_ids: list[uuid.UUID]

    @property
    def cases(self) -> int:
        return len(self.case_ids)


def _due(cutoff: datetime) -> Any:
    return (
        Case.status.in_([status.value for status in TERMINAL_STATUSES]),  # type: ignore[attr-defined]
        Case.updated_at < cutoff,
        Case.personal_data_erased_at.is_(None),  # type: ignore[union-attr]
    )


def cases_due(session: Session, cutoff: datetime) -> list[uuid.UUID]:
    return list(session.scalars(select(Case.id).where(*_due(cutoff)).order_by(Case.updated_at, Case.id)))  # type: ignore[arg-type]


def erase_case(session: Session, case: Case, now: datetime) -> None:
    """Leave the case a content-free record, in the caller's transaction."""
    if case.age_at_encounter is not None:
        case.age_band = age_band(case.age_at_encounter)
    case.age_at_encounter = None
    case.referral = None
    case.personal_data_erased_at = now
    session.add(case)
    with erasure_permitted(session):  # the one change the case log's triggers let through
        for fact in session.scalars(select(CaseFact).where(CaseFact.case_id == case.id)):
            scrubbed = without_free_text(fact.kind, fact.data)
            if scrubbed != fact.data:
                fact.data = scrubbed  # a new dict, so the change is seen
                session.add(fact)
    session.flush()
    case_log.rebuild_state(session, case)  # the snapshot holds notes too (a breach request's)
    settle_messages(session, OutboxMessage, case.id, now)
    erase_settled_payloads(session, CallbackDelivery, CallbackDelivery.case_id == case.id)


def run_retention(
    engine: Engine, *, retention_days: int, now: datetime, dry_run: bool = False,
    audit: Callable[[Session, list[uuid.UUID]], None] | None = None,
) -> RetentionRun:
    """Erase the personal data of every case ended more than ``retention_days`` before ``now``.

    ``audit`` is called in each batch's transaction, with the cases it erased, before it commits."""
    cutoff = now - timedelta(days=retention_days)
    with Session(engine) as session:
        due = cases_due(session, cutoff)
    if dry_run:
        return RetentionRun(cutoff, True, due)
    erased: list[uuid.UUID] = []
    for start in range(0, len(due), BATCH):
        with Session(engine) as session:
            overwrite_erased_bytes(session)
            # Locked and checked again: a late report may have come in since the list was read.
            cases = session.scalars(select(Case).where(Case.id.in_(due[start:start + BATCH]), *_due(cutoff)).with_for_update())  # type: ignore[attr-defined]
            batch = []
            for case in cases:
                erase_case(session, case, now)
                batch.append(case.id)
            if audit is not None and batch:
                audit(session, batch)
            session.commit()
            erased += batch
    if erased:
        checkpoint_after_erasure(engine)
    log.info("retention run", cases_erased=len(erased), cutoff=as_utc(cutoff).isoformat())
    return RetentionRun(cutoff, False, erased)


def daily_retention(engine: Engine, settings: Settings) -> DailyRetention:
    """This service's retention, run by itself once a day (diversion_common/retention_schedule.py)."""
    return DailyRetention(
        engine, lambda engine, now: run_retention(engine, retention_days=settings.retention_days, now=now), settings.retention_hour_utc
    )
