"""The one table from a case's domain events (lifecycle/events.py) to their effects, each run in
the transaction of the fact that caused it: who is told (the gateway's mirror, the police, the
court or the YJU, the provider) and which projections are kept in step.

A new kind of event is a new row here; a new effect of an existing event is a new entry in its row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlmodel import Session

from diversion_common.contracts import NoticeKind
from referral_api.breaches import notifications
from referral_api.breaches.projection import sync_request
from referral_api.cases.announcements import announce
from referral_api.cases.tables import Case
from referral_api.lifecycle.events import (
    BreachRequestChanged,
    DomainEvent,
    FactReportedAfterSubmission,
    ReminderSent,
    StatusChanged,
    WarningIssued,
)
from referral_api.lifecycle.fold import CaseState

Effect = Callable[[Session, Case, CaseState, Any, datetime], None]


def _request_projected(session: Session, case: Case, state: CaseState, event: BreachRequestChanged, _at: datetime) -> None:
    request = state.breach_request(event.request_id)
    assert request is not None
    sync_request(session, case, request)


def _request_announced(session: Session, case: Case, state: CaseState, event: BreachRequestChanged, _at: datetime) -> None:
    request = state.breach_request(event.request_id)
    assert request is not None
    notifications.breach_request_changed(session, case, request)


def _warning_announced(session: Session, case: Case, _state: CaseState, event: WarningIssued, at: datetime) -> None:
    notifications.case_notice(session, case, notice=NoticeKind.warning, occurred_at=at, appointment_id=event.appointment_id)


def _reminder_announced(session: Session, case: Case, _state: CaseState, event: ReminderSent, at: datetime) -> None:
    notifications.case_notice(
        session, case, notice=NoticeKind.reminder, occurred_at=at, deadline=event.deadline, due_at=event.due_at,
        breach_request_id=event.breach_request_id,
    )


def _late_fact_announced(session: Session, case: Case, state: CaseState, event: FactReportedAfterSubmission, _at: datetime) -> None:
    request = state.breach_request(event.request_id)
    assert request is not None
    notifications.fact_reported(session, case, request, (event.source, event.source_id))


def _status_announced(session: Session, case: Case, state: CaseState, event: StatusChanged, _at: datetime) -> None:
    announce(session, case, state, event.previous, event.reason, event.source)


HANDLERS: dict[type, tuple[Effect, ...]] = {
    StatusChanged: (_status_announced,),
    BreachRequestChanged: (_request_projected, _request_announced),
    WarningIssued: (_warning_announced,),
    ReminderSent: (_reminder_announced,),
    FactReportedAfterSubmission: (_late_fact_announced,),
}


def handle(session: Session, case: Case, state: CaseState, events: Sequence[DomainEvent], at: datetime) -> None:
    for event in events:
        for effect in HANDLERS[type(event)]:
            effect(session, case, state, event, at)
