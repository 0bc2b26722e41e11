"""The Youth Justice Unit's endpoints."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlmodel import Session

from diversion_common.observability import current_request_id
from diversion_common.pagination import CursorQuery
from diversion_common.problems import problem_responses
from referral_api.auth import YouthJusticeUnit
from diversion_common.contracts import CaseStatus
from referral_api.db import get_session
from referral_api.youth_justice import service
from referral_api.youth_justice.schemas import DecisionRequest, YjuCasePage, YjuCaseView

router = APIRouter(prefix="/v1/yju/referrals", tags=["youth justice"])
DbSession = Annotated[Session, Depends(get_session, scope="function")]


@router.get("", response_model=YjuCasePage, summary="Young people's cases sent to the YJU", responses=problem_responses(401, 403, 422))
def list_yju_cases(
    principal: YouthJusticeUnit,
    session: DbSession,
    status: CaseStatus | None = None,
    cursor: CursorQuery = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> YjuCasePage:
    return service.list_cases(session, principal, status=status, cursor=cursor, limit=limit, request_id=current_request_id())


@router.get(
    "/{case_id}", response_model=YjuCaseView, summary="Read a case sent to the YJU",
    description="While the case goes on, who the young person is and the guardian; once it has ended (declined, "
    "withdrawn, completed...), only the record of the unit's decision: ids, dates, status, reason.",
    responses=problem_responses(401, 403, 404, 422),
)
def read_yju_case(case_id: uuid.UUID, principal: YouthJusticeUnit, session: DbSession) -> YjuCaseView:
    return service.read_case(session, principal, case_id, current_request_id())


@router.post(
    "/{case_id}/decision",
    response_model=YjuCaseView,
    summary="Record the YJU's decision: divert, or decline to the traditional pathway (the answer to a decline is the record)",
    responses=problem_responses(400, 401, 403, 404, 409, 413, 415, 422),
)
def decide_yju_case(case_id: uuid.UUID, body: DecisionRequest, principal: YouthJusticeUnit, session: DbSession) -> YjuCaseView:
    return service.decide(session, principal, case_id, body, current_request_id())
