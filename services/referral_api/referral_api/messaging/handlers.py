"""What referral_api does with each message from the provider gateway."""

from __future__ import annotations

import logging
import uuid
from typing import Annotated

from pydantic import BaseModel, StringConstraints
from sqlmodel import Session

from diversion_common.messaging import TopicHandler
from referral_api.cases import service as cases
from referral_api.cases.lifecycle import CaseEvent
from referral_api.cases.tables import Case
from referral_api.errors import CaseStatusConflict

log = logging.getLogger("diversion.referral_api.messages")

Reason = Annotated[str, StringConstraints(max_length=300)]


class CaseRouted(BaseModel):
    case_id: uuid.UUID
    provider_id: uuid.UUID
    reason: Reason


class CaseAccepted(BaseModel):
    case_id: uuid.UUID
    provider_id: uuid.UUID


class CaseUnroutable(BaseModel):
    case_id: uuid.UUID
    reason: Reason


def _move(session: Session, case_id: uuid.UUID, event: CaseEvent, reason: str) -> None:
    case = session.get(Case, case_id, with_for_update=True)
    if case is None:
        log.error("message for an unknown case", extra={"case_id": str(case_id)})
        return
    try:
        cases.apply_event(session, case, event, actor=None, reason=reason)
    except CaseStatusConflict:
        # e.g. withdrawn while the gateway was routing: the case's own state wins.
        log.info("message no longer applies", extra={"case_id": str(case_id), "status": case.status})


def _routed(session: Session, message: CaseRouted) -> None:
    _move(session, message.case_id, CaseEvent.routed, f"provider {message.provider_id}: {message.reason}")


def _accepted(session: Session, message: CaseAccepted) -> None:
    _move(session, message.case_id, CaseEvent.provider_accepted, f"provider {message.provider_id} accepted the referral")


def _unroutable(session: Session, message: CaseUnroutable) -> None:
    _move(session, message.case_id, CaseEvent.routing_failed, message.reason)


HANDLERS = {
    "case.routed": TopicHandler(CaseRouted, _routed),
    "case.unroutable": TopicHandler(CaseUnroutable, _unroutable),
    "case.accepted": TopicHandler(CaseAccepted, _accepted),
}
