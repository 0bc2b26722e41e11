"""Cases at the gateway: the admin's routing view; a provider's view of its own cases."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlmodel import Session

from diversion_common.pagination import CursorQuery
from diversion_common.audit.context import touched
from diversion_common.problems import problem_responses
from provider_gateway.auth import Administrator, ProviderSystem
from provider_gateway.cases import service
from provider_gateway.cases.schemas import GatewayCasePage, GatewayCaseRouting, ProviderCase, ProviderCaseEnded, ProviderCaseView
from provider_gateway.cases.tables import GatewayCaseStatus
from provider_gateway.db import get_session

admin_router = APIRouter(prefix="/v1/admin/cases", tags=["cases"])
provider_router = APIRouter(prefix="/v1/provider/referrals", tags=["provider"])
DbSession = Annotated[Session, Depends(get_session, scope="function")]


@admin_router.get("", response_model=GatewayCasePage, summary="Cases at the gateway, e.g. the unroutable ones", responses=problem_responses(401, 403, 422))
def list_cases(
    _admin: Administrator,
    session: DbSession,
    status: GatewayCaseStatus | None = None,
    cursor: CursorQuery = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> GatewayCasePage:
    page = service.list_cases(session, status=status, cursor=cursor, limit=limit)
    touched(case.case_id for case in page.items)
    return page


@admin_router.get(
    "/{case_id}/routing",
    response_model=GatewayCaseRouting,
    summary="Every routing decision for a case, with its reason",
    responses=problem_responses(401, 403, 404, 422),
)
def case_routing(case_id: uuid.UUID, _admin: Administrator, session: DbSession) -> GatewayCaseRouting:
    return service.routing_of(session, case_id)


@provider_router.get(
    "/{case_id}",
    response_model=ProviderCase,
    summary="A referral routed to you, and its status (the link in each webhook)",
    description=(
        "`view: referral` while the case is with you: the referral, what you reported, the progress. "
        "`view: ended` once it was withdrawn or left you (you rejected it, or it was taken from you when "
        "you were disabled): only its id and why it ended for you, never the person's details."
    ),
    responses=problem_responses(401, 403, 404, 422),
)
def read_referral(case_id: uuid.UUID, provider: ProviderSystem, session: DbSession) -> ProviderCaseView | ProviderCaseEnded:
    assert provider.provider_id is not None
    return service.provider_view(session, provider.provider_id, case_id)
