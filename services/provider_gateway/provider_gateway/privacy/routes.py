"""The administrator's privacy endpoint at the gateway: its part of a subject access export."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from sqlmodel import Session

from diversion_common.problems import problem_responses
from provider_gateway.auth import Administrator
from provider_gateway.db import get_session
from provider_gateway.privacy import subject_access
from provider_gateway.privacy.schemas import GatewaySubjectAccessExport, SubjectAccessRequest

router = APIRouter(prefix="/v1/admin/subject-access", tags=["privacy"])
DbSession = Annotated[Session, Depends(get_session, scope="function")]


@router.post(
    "",
    response_model=GatewaySubjectAccessExport,
    summary="The gateway's copy of the cases a subject access export found: referral, routing, deliveries, events",
    description="Pass the case ids referral_api's `POST /v1/admin/subject-access` returned for the person.",
    responses=problem_responses(400, 401, 403, 413, 415, 422),
)
def export_subject_access(body: SubjectAccessRequest, _admin: Administrator, session: DbSession) -> GatewaySubjectAccessExport:
    return subject_access.export(session, body)
