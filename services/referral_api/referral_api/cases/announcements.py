"""Who is told when a fact changes a case: the gateway's mirror, and the police system."""

from __future__ import annotations

from sqlmodel import Session

from diversion_common.contracts import CaseStatus, CaseStatusChanged, ProgrammeSummary, BookedAppointment, Topic
from diversion_common.messaging import enqueue
from referral_api.cases.tables import Case
from referral_api.lifecycle.facts import GATEWAY_SOURCE, PROVIDER_SOURCE_PREFIX
from referral_api.lifecycle.fold import CaseState
from referral_api.messaging.tables import OutboxMessage
from referral_api.callbacks.service import notify_status_changed

# Before routing is requested the gateway does not hold the case: nothing to mirror.
_NOT_AT_GATEWAY = (None, CaseStatus.awaiting_yju_decision)


def programme_summary(state: CaseState) -> ProgrammeSummary:
    programme = state.programme
    upcoming = programme.next_appointment
    return ProgrammeSummary(
        required=list(programme.requirements),
        done=list(programme.done),
        remaining=list(programme.remaining),
        next_appointment=BookedAppointment(
            appointment_id=upcoming.appointment_id, kind=upcoming.kind, starts_at=upcoming.starts_at,
            mode=upcoming.mode, out_of_hours=upcoming.out_of_hours,
        ) if upcoming else None,
        contact_attempts=programme.contact_attempts,
        contacted=programme.contacted,
        attended=programme.attended,
        missed=dict(programme.missed),
        cancelled=programme.cancelled,
        assessment_outcome=programme.assessment_outcome,
        assessment_due=programme.assessment_due,
        completion_due=programme.completion_due,
    )


def announce(session: Session, case: Case, state: CaseState, previous: CaseStatus | None, reason: str | None, source: str) -> None:
    """A change of status, in the transaction of the fact that made it: the police are told, and
    the gateway's mirror, unless the fact came from the gateway itself. A message of the gateway
    (a routing, a provider's event) is answered with the case as it now stands, and the gateway
    mirrors that answer (provider_gateway/messaging/answers.py): telling it again
    would cost both services a message for nothing. Only a change of status is announced."""
    if previous not in _NOT_AT_GATEWAY and not came_from_gateway(source):
        message = CaseStatusChanged(
            case_id=case.id, status=state.status, version=state.version, reason=reason, programme=programme_summary(state)
        )
        enqueue(session, OutboxMessage(topic=Topic.status_changed.value, aggregate_id=case.id, payload=message.model_dump(mode="json")))
    notify_status_changed(
        session, case_id=case.id, force=case.force, police_reference=case.police_reference,
        status=state.status, version=state.version,
    )


def came_from_gateway(source: str) -> bool:
    """Facts the gateway sent: its routing's, and the providers' events it forwards."""
    return source == GATEWAY_SOURCE or source.startswith(PROVIDER_SOURCE_PREFIX)
