"""Reading the gateway's cases: the admin's routing view, and a provider's own cases."""

from __future__ import annotations

import uuid

from sqlalchemy import and_, or_, select
from sqlmodel import Session

from diversion_common import pagination
from diversion_common.database import as_utc
from diversion_common.problems import NotFound
from provider_gateway.cases.schemas import (
    GatewayCasePage,
    GatewayCaseRouting,
    GatewayCaseSummary,
    ProviderCaseView,
    RoutingDecisionPublic,
)
from provider_gateway.cases.tables import GatewayCase, GatewayCaseStatus
from provider_gateway.routing.tables import RoutingDecision


def _summary(case: GatewayCase) -> GatewayCaseSummary:
    return GatewayCaseSummary(
        case_id=case.case_id,
        pathway=case.pathway,
        district=case.district,
        status=GatewayCaseStatus(case.status),
        provider_id=case.provider_id,
        updated_at=as_utc(case.updated_at),
    )


def list_cases(session: Session, *, status: GatewayCaseStatus | None, cursor: str | None, limit: int) -> GatewayCasePage:
    query = select(GatewayCase)
    if status is not None:
        query = query.where(GatewayCase.status == status.value)
    if cursor is not None:
        after, key = pagination.decode_cursor(cursor)
        try:
            after_id = uuid.UUID(hex=key)
        except ValueError:
            raise pagination.InvalidCursor() from None
        query = query.where(
            or_(GatewayCase.updated_at > after, and_(GatewayCase.updated_at == after, GatewayCase.case_id > after_id))  # type: ignore[arg-type,operator]
        )
    rows = list(session.scalars(query.order_by(GatewayCase.updated_at, GatewayCase.case_id).limit(limit + 1)))  # type: ignore[arg-type]
    page, more = rows[:limit], len(rows) > limit
    return GatewayCasePage(
        items=[_summary(c) for c in page],
        next_cursor=pagination.encode_cursor(page[-1].updated_at, page[-1].case_id.hex) if more else None,
    )


def routing_of(session: Session, case_id: uuid.UUID) -> GatewayCaseRouting:
    case = session.get(GatewayCase, case_id)
    if case is None:
        raise NotFound("no such case at the gateway")
    decisions = session.scalars(
        select(RoutingDecision).where(RoutingDecision.case_id == case_id).order_by(RoutingDecision.id)  # type: ignore[arg-type]
    )
    return GatewayCaseRouting(
        **_summary(case).model_dump(),
        decisions=[RoutingDecisionPublic(provider_id=d.provider_id, reason=d.reason, at=as_utc(d.at)) for d in decisions],
    )


def provider_view(session: Session, provider_id: uuid.UUID, case_id: uuid.UUID) -> ProviderCaseView:
    case = session.get(GatewayCase, case_id)
    # Only the provider the case is routed to sees it; to anyone else it does not exist.
    if case is None or case.provider_id != provider_id:
        raise NotFound("no such referral for this provider")
    return ProviderCaseView(case_id=case.case_id, status=GatewayCaseStatus(case.status), referral=case.provider_payload)
