"""What referral_api does with each message from the provider gateway: record it as a fact.

Every message becomes a fact on the case's log, whatever the case's status: the
fold decides what it means (a routing that arrives after a withdrawal changes
nothing). Only a message that names no case, or a provider event the rules refuse,
is refused; the gateway keeps it with the reason.
"""

from __future__ import annotations

import uuid

from sqlmodel import Session

from diversion_common.contracts import CaseProjection, CaseRouted, CaseUnroutable, ProviderEventReported, Topic
from diversion_common.messaging import MessageEnvelope, MessageRefused, TopicHandler
from referral_api.case_events import recording
from referral_api.case_log import service as case_log
from referral_api.cases.announcements import programme_summary
from referral_api.cases.tables import Case
from referral_api.lifecycle.facts import FactKind
from referral_api.lifecycle.fold import CaseState
from referral_api.lifecycle.rules import refusal


def _case(session: Session, case_id: uuid.UUID) -> Case:
    case = session.get(Case, case_id, with_for_update=True)
    if case is None:
        raise MessageRefused("no such case", code="unknown_case")
    return case


# Each message of the gateway is answered with the case as it then stands: the gateway mirrors
# the answer, and a change of status it caused is not announced to it again (cases/announcements.py).


def _routed(session: Session, message: CaseRouted, envelope: MessageEnvelope) -> CaseProjection:
    case = _case(session, message.case_id)
    recorded = recording.record(
        session, case, kind=FactKind.routed, occurred_at=message.occurred_at,
        source=case_log.GATEWAY_SOURCE, source_id=str(envelope.id),
        data={"provider_id": str(message.provider_id), "reason": message.reason},
    )
    return _projection(case.id, recorded.state)


def _unroutable(session: Session, message: CaseUnroutable, envelope: MessageEnvelope) -> CaseProjection:
    case = _case(session, message.case_id)
    recorded = recording.record(
        session, case, kind=FactKind.unroutable, occurred_at=message.occurred_at,
        source=case_log.GATEWAY_SOURCE, source_id=str(envelope.id), data={"reason": message.reason},
    )
    return _projection(case.id, recorded.state)


def _provider_event(session: Session, message: ProviderEventReported, _envelope: MessageEnvelope) -> CaseProjection:
    event = message.event
    case = _case(session, event.data.case_id)
    try:
        recorded = recording.record(
            session,
            case,
            kind=FactKind(event.type),
            occurred_at=event.data.occurred_at,
            source=case_log.provider_source(message.provider_id),
            source_id=message.webhook_id,
            data=event.data.model_dump(mode="json", exclude={"case_id", "occurred_at"}),
            check=refusal,
        )
    except case_log.FactRefused as refused:
        raise MessageRefused(refused.refusal.detail, code=refused.refusal.code, retryable=refused.refusal.retryable) from None
    return _projection(case.id, recorded.state)


def _projection(case_id: uuid.UUID, state: CaseState) -> CaseProjection:
    return CaseProjection(case_id=case_id, status=state.status, version=state.version, programme=programme_summary(state))


def _projection_now(session: Session, message: ProviderEventReported | CaseRouted | CaseUnroutable) -> CaseProjection:
    """A repeat is answered with the case as it is now (the first answer may have been lost)."""
    case_id = message.event.data.case_id if isinstance(message, ProviderEventReported) else message.case_id
    case = _case(session, case_id)
    return _projection(case.id, case_log.current_state(session, case.id))


HANDLERS = {
    Topic.routed.value: TopicHandler(CaseRouted, _routed, on_duplicate=_projection_now),
    Topic.unroutable.value: TopicHandler(CaseUnroutable, _unroutable, on_duplicate=_projection_now),
    Topic.provider_event.value: TopicHandler(ProviderEventReported, _provider_event, on_duplicate=_projection_now),
}
