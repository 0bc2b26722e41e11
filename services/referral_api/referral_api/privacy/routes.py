"""The administrator's privacy endpoints: the subject access export."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from sqlmodel import Session

from diversion_common.observability import current_request_id
from diversion_common.problems import problem_responses
from referral_api.auth import Administrator
from referral_api.db import get_session
from referral_api.privacy import subject_access
from referral_api.privacy.schemas import SubjectAccessExport, SubjectAccessRequest

router = APIRouter(prefix="/v1/admin/subject-access", tags=["privacy"])
DbSession = Annotated[Session, Depends(get_session, scope="function")]


@router.post(
    "",
    response_model=SubjectAccessExport,
    summary="Everything held about one person: each case, its log, its reads, its messages",
    description=(
        "Find the person by `case_id`, or by `given_name`, `family_name` and `date_of_birth` as the "
        "referral gave them (a POST, so no one's name is in a URL or a log). Each export is recorded as a "
        "read of every case it shows. The provider gateway's copy is exported by its own endpoint."
    ),
    responses=problem_responses(400, 401, 403, 404, 413, 415, 422),
)
def export_subject_access(body: SubjectAccessRequest, principal: Administrator, session: DbSession) -> SubjectAccessExport:
    return subject_access.export(session, body, subject_access.reads_by(principal, current_request_id()))
