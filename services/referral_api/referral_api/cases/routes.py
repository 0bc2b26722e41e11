"""Police systems' endpoints: refer, read, list and withdraw their own force's cases."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from sqlmodel import Session

from diversion_common.audit.context import touched
from diversion_common.observability import current_request_id
from diversion_common.pagination import CursorQuery
from diversion_common.problems import problem_responses
from diversion_common.wire_types import DateTime
from referral_api.auth import PoliceSystem
from referral_api.cases import service
from diversion_common.contracts import CaseStatus
from referral_api.cases.schemas import CaseDetail, CasePage, CasePublic, ReferralCreate, TimelinePage, WithdrawRequest
from referral_api.cases.tables import IDEMPOTENCY_KEY_LENGTH
from referral_api.db import get_session

router = APIRouter(prefix="/v1/referrals", tags=["referrals"])

DbSession = Annotated[Session, Depends(get_session, scope="function")]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=IDEMPOTENCY_KEY_LENGTH,
        pattern=r"^[\x21-\x7e]+$",
        description="A retry with the same key and body gets the original answer.",
    ),
]


@router.post(
    "",
    status_code=201,
    response_model=CasePublic,
    summary="Refer a person found in possession",
    responses={
        201: {"headers": {"Location": {"description": "The case", "schema": {"type": "string"}}}},
        **problem_responses(400, 401, 403, 409, 413, 415, 422),
    },
)
def create_referral(
    referral: ReferralCreate,
    principal: PoliceSystem,
    session: DbSession,
    request: Request,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> dict:
    result = service.submit_referral(
        session,
        principal,
        referral,
        idempotency_key=idempotency_key,
        clock_skew=timedelta(seconds=request.app.state.settings.clock_skew_seconds),
    )
    touched([result.case_id])
    response.headers["Location"] = service.case_location(result.case_id)
    if result.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return result.body


@router.get(
    "",
    response_model=CasePage,
    summary="List this force's cases, oldest change first",
    description=(
        "Cases in the order they last changed. To follow changes, poll with `updated_since` set a "
        "minute before the newest `updated_at` already seen: a change committed late can carry a "
        "slightly earlier time, and a case seen twice is harmless."
    ),
    responses=problem_responses(401, 403, 422),
)
def list_referrals(
    principal: PoliceSystem,
    session: DbSession,
    status: CaseStatus | None = None,
    updated_since: Annotated[DateTime | None, Query(description="Only cases changed at or after this time.")] = None,
    cursor: CursorQuery = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> CasePage:
    return service.list_cases(
        session,
        principal,
        status=status,
        updated_since=updated_since,
        cursor=cursor,
        limit=limit,
        request_id=current_request_id(),
    )


@router.get(
    "/{case_id}",
    response_model=CaseDetail,
    summary="Read one of this force's cases with its history",
    responses=problem_responses(401, 403, 404, 422),
)
def read_referral(case_id: uuid.UUID, principal: PoliceSystem, session: DbSession) -> CaseDetail:
    return service.read_case(session, principal, case_id, current_request_id())


@router.get(
    "/{case_id}/timeline",
    response_model=TimelinePage,
    summary="Everything that happened to one of this force's cases, in plain words, in the order it happened",
    description=(
        "Each fact once, ordered by when it happened (a late report takes its place in the past, with "
        "when we were told). A corrected report (a missed appointment later reported attended) stays, "
        "marked `superseded`. No health or assessment detail beyond the assessment's outcome. "
        f"Paged: {service.TIMELINE_PAGE} entries unless `limit` says otherwise (at most {service.TIMELINE_PAGE_MAX}); "
        "follow `next` (or pass `next_cursor` as `cursor`) for the next page. A fact reported late, dated "
        "before the page already read, appears on no later page: read again from the start to see it."
    ),
    responses=problem_responses(401, 403, 404, 422),
)
def read_timeline(
    case_id: uuid.UUID,
    principal: PoliceSystem,
    session: DbSession,
    cursor: CursorQuery = None,
    limit: Annotated[int, Query(ge=1, le=service.TIMELINE_PAGE_MAX)] = service.TIMELINE_PAGE,
) -> TimelinePage:
    return service.timeline(session, principal, case_id, current_request_id(), cursor=cursor, limit=limit)


@router.post(
    "/{case_id}/withdraw",
    response_model=CaseDetail,
    summary="Withdraw a referral",
    responses=problem_responses(400, 401, 403, 404, 409, 413, 415, 422),
)
def withdraw_referral(
    case_id: uuid.UUID, body: WithdrawRequest, principal: PoliceSystem, session: DbSession
) -> CaseDetail:
    return service.withdraw_case(session, principal, case_id, body, current_request_id())
