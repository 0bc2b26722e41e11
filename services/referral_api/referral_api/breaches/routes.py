"""Breach requests: the officer's review, the court's and the YJU's answers."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from diversion_common.wire_types import DateTime
from sqlmodel import Session

from diversion_common.observability import current_request_id
from diversion_common.pagination import CursorQuery
from diversion_common.problems import problem_responses
from diversion_common.reference import REFERENCE_CODE_LENGTH, REFERENCE_CODE_PATTERN
from referral_api.auth import BreachAddressee, BreachParty, CourtLiaison, PoliceSystem
from referral_api.breaches import service
from referral_api.breaches.schemas import (
    CourtBreachRequest,
    CourtBreachRequestPage,
    CourtBreachRequestRecord,
    CourtBreachRequestView,
    HearingRequest,
    OutcomeRequest,
    PoliceBreachRequest,
    PoliceBreachRequestPage,
    WithdrawBreachRequest,
    YjuBreachRequest,
    YjuBreachRequestPage,
    YjuBreachRequestRecord,
    YjuBreachRequestView,
)
from referral_api.db import get_session
from referral_api.lifecycle.breach_requests import BreachStatus

router = APIRouter(prefix="/v1/breach-requests", tags=["breach requests"])
DbSession = Annotated[Session, Depends(get_session, scope="function")]
# The caller's own view: the police's always whole; the court's and the YJU's, once the request is
# closed (withdrawn, outcome recorded), only the record of the decision (docs/BREACHES.md).
View = PoliceBreachRequest | CourtBreachRequestView | YjuBreachRequestView
_READ = problem_responses(401, 403, 404, 422)
_STEP = problem_responses(400, 401, 403, 404, 409, 413, 415, 422)


@router.get(
    "",
    response_model=PoliceBreachRequestPage | CourtBreachRequestPage | YjuBreachRequestPage,
    summary="Breach requests: the force's own, the court's own or the YJU's own",
    responses=problem_responses(401, 403, 422),
)
def list_breach_requests(
    principal: BreachParty,
    session: DbSession,
    status: BreachStatus | None = None,
    court: Annotated[str | None, Query(
        max_length=REFERENCE_CODE_LENGTH, pattern=REFERENCE_CODE_PATTERN,
        description="Addressed to this magistrates' court (GET /v1/reference/courts; a court client sees only its own anyway).",
    )] = None,
    received_from: Annotated[DateTime | None, Query(description="Submitted at or after.")] = None,
    received_to: Annotated[DateTime | None, Query(description="Submitted before.")] = None,
    cursor: CursorQuery = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> PoliceBreachRequestPage | CourtBreachRequestPage | YjuBreachRequestPage:
    return service.list_requests(
        session, principal, status=status, received_from=received_from, received_to=received_to,
        cursor=cursor, limit=limit, request_id=current_request_id(), court=court,
    )


@router.get(
    "/{request_id}", response_model=View, summary="Read a breach request",
    description="The caller's own view of it. A court or a YJU reading a closed request (withdrawn, outcome recorded) "
    "gets only the record of the decision: ids, dates, status, reason; never the person.",
    responses=_READ,
)
def read_breach_request(request_id: uuid.UUID, principal: BreachParty, session: DbSession) -> View:
    return service.read_request(session, principal, request_id, current_request_id())


@router.post("/{request_id}/confirm", response_model=PoliceBreachRequest, summary="The officer in the case submits the request", responses=_STEP)
def confirm_breach_request(request_id: uuid.UUID, principal: PoliceSystem, session: DbSession) -> View:
    return service.confirm(session, principal, request_id, current_request_id())


@router.post("/{request_id}/withdraw", response_model=PoliceBreachRequest, summary="The officer in the case decides not to proceed", responses=_STEP)
def withdraw_breach_request(request_id: uuid.UUID, body: WithdrawBreachRequest, principal: PoliceSystem, session: DbSession) -> View:
    return service.withdraw(session, principal, request_id, body, current_request_id())


@router.post("/{request_id}/acknowledge", response_model=CourtBreachRequest | YjuBreachRequest, summary="The court or the YJU acknowledges receipt", responses=_STEP)
def acknowledge_breach_request(request_id: uuid.UUID, principal: BreachAddressee, session: DbSession) -> View:
    return service.acknowledge(session, principal, request_id, current_request_id())


@router.post("/{request_id}/hearing", response_model=CourtBreachRequest, summary="The court schedules a hearing", responses=_STEP)
def schedule_hearing(request_id: uuid.UUID, body: HearingRequest, principal: CourtLiaison, session: DbSession) -> View:
    return service.schedule_hearing(session, principal, request_id, body, current_request_id())


@router.post(
    "/{request_id}/outcome", response_model=CourtBreachRequestRecord | YjuBreachRequestRecord,
    summary="The court or the YJU records its outcome; the answer is the record it keeps seeing", responses=_STEP,
)
def record_outcome(request_id: uuid.UUID, body: OutcomeRequest, principal: BreachAddressee, session: DbSession) -> View:
    return service.record_outcome(session, principal, request_id, body, current_request_id())
