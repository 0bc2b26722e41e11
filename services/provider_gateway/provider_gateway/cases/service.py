"""Reading the gateway's cases: the admin's routing view, and a provider's own cases."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlmodel import Session

from diversion_common import pagination
from diversion_common.database import as_utc
from diversion_common.problems import NotFound
from provider_gateway.cases.schemas import (
    EndedForYou,
    GatewayCasePage,
    GatewayCaseRouting,
    GatewayCaseSummary,
    ProviderCaseEnded,
    ProviderCaseView,
    ReportedEvent,
    RoutingDecisionPublic,
)
from provider_gateway.cases.tables import GatewayCase, GatewayCaseStatus
from provider_gateway.events.tables import ProviderEventReceipt
from provider_gateway.routing.tables import RoutingDecision


def _summary(case: GatewayCase) -> GatewayCaseSummary:
    return GatewayCaseSummary(
        case_id=case.case_id,
        pathway=case.pathway,
        district=case.district,
        status=GatewayCaseStatus(case.status),
        case_status=case.case_status,  # type: ignore[arg-type]
        provider_id=case.provider_id,
        updated_at=as_utc(case.updated_at),
    )


def list_cases(session: Session, *, status: GatewayCaseStatus | None, cursor: str | None, limit: int) -> GatewayCasePage:
    query = select(GatewayCase)
    if status is not None:
        query = query.where(GatewayCase.status == status.value)
    page = pagination.keyset_page(
        session, query, at=GatewayCase.updated_at, key=GatewayCase.case_id, cursor=cursor, limit=limit,  # type: ignore[arg-type]
        key_from_text=pagination.uuid_key, key_to_text=pagination.uuid_text,
    )
    return GatewayCasePage(items=[_summary(c) for c in page.rows], next_cursor=page.next_cursor)


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


def provider_view(session: Session, provider_id: uuid.UUID, case_id: uuid.UUID) -> ProviderCaseView | ProviderCaseEnded:
    """The provider the case is with sees it; one it has left sees only that it ended (and why);
    to anyone else it does not exist."""
    case = session.get(GatewayCase, case_id)
    if case is None:
        raise NotFound("no such referral for this provider")
    if case.provider_id != provider_id:
        if not _was_routed_to(session, case_id, provider_id):
            raise NotFound("no such referral for this provider")
        left = EndedForYou.rejected if str(provider_id) in (case.declined_by or []) else EndedForYou.reassigned
        return ProviderCaseEnded(view="ended", case_id=case.case_id, status=left)
    if case.status == GatewayCaseStatus.withdrawn.value:
        return ProviderCaseEnded(view="ended", case_id=case.case_id, status=EndedForYou.withdrawn)
    reported = session.scalars(
        select(ProviderEventReceipt)
        .where(ProviderEventReceipt.case_id == case_id, ProviderEventReceipt.provider_id == provider_id)
        .order_by(ProviderEventReceipt.occurred_at, ProviderEventReceipt.received_at)  # type: ignore[arg-type]
    )
    return ProviderCaseView(
        view="referral",
        case_id=case.case_id,
        status=GatewayCaseStatus(case.status),
        case_status=case.case_status,  # type: ignore[arg-type]
        case_version=case.case_version,
        programme=case.programme,  # type: ignore[arg-type]
        referral=case.provider_payload,
        reported=[
            ReportedEvent(webhook_id=r.webhook_id, event_type=r.event_type, occurred_at=as_utc(r.occurred_at), outcome=r.outcome)
            for r in reported
        ],
    )


def _was_routed_to(session: Session, case_id: uuid.UUID, provider_id: uuid.UUID) -> bool:
    """Whether a routing decision ever gave the case to this provider."""
    return session.scalars(
        select(RoutingDecision.id).where(RoutingDecision.case_id == case_id, RoutingDecision.provider_id == provider_id).limit(1)  # type: ignore[arg-type]
    ).first() is not None
