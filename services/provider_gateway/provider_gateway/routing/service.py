"""Routing cases to providers, recording each decision and telling referral_api."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import func, select, text
from sqlmodel import Session

from diversion_common.contracts import CaseRouted, CaseUnroutable, Topic
from diversion_common.database import utcnow
from diversion_common.messaging import enqueue
from provider_gateway.cases.tables import GatewayCase, GatewayCaseStatus
from provider_gateway.config import get_settings
from provider_gateway.deliveries.service import create_referral_delivery, referral_created_payload
from provider_gateway.messaging.tables import OutboxMessage
from provider_gateway.providers.tables import Provider
from provider_gateway.routing.rules import Candidate, Decision, RoutingRequest, choose_provider
from provider_gateway.routing.tables import RoutingDecision



# Any fixed number: the key of the PostgreSQL advisory lock that serialises routing.
_ROUTING_LOCK_KEY = 4_120_001
_TAKE_ROUTING_LOCK = text("SELECT pg_advisory_xact_lock(:key)")


def hold_routing_lock(session: Session) -> None:
    """Serialise routing decisions with changes to the provider registry, until commit.

    Without it, on PostgreSQL a case routed while a provider is being added can
    miss that provider, and the provider's "route the waiting cases" can miss
    that case: it stays unroutable. (SQLite already runs writers one at a time.)
    """
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(_TAKE_ROUTING_LOCK, {"key": _ROUTING_LOCK_KEY})


def candidates(session: Session, providers: Iterable[Provider]) -> list[Candidate]:
    open_cases = dict(
        session.execute(
            select(GatewayCase.provider_id, func.count())
            .where(GatewayCase.status.in_([GatewayCaseStatus.routed.value, GatewayCaseStatus.accepted.value]))  # type: ignore[attr-defined]
            .group_by(GatewayCase.provider_id)
        ).all()
    )
    return [
        Candidate(
            provider_id=p.id,
            name=p.name,
            pathways=frozenset(p.pathways),
            districts=frozenset(p.districts),
            out_of_hours=p.out_of_hours,
            active=p.active,
            open_cases=open_cases.get(p.id, 0),
        )
        for p in providers
    ]


def route_case(session: Session, case: GatewayCase, *, only_if_routed: bool = False, cause: str | None = None) -> Decision:
    """Choose a provider for the case, record the decision and tell referral_api; the caller commits.

    ``cause`` says why a case is routed again (it leads the recorded reason).
    """
    hold_routing_lock(session)
    request = RoutingRequest(
        case.pathway, case.district, case.out_of_hours_wanted, frozenset(uuid.UUID(p) for p in case.declined_by or [])
    )
    # Kept for the delivery: the session's identity map holds them only while something does,
    # and loading the chosen one again was a tenth of the gateway's CPU per referral.
    providers = {provider.id: provider for provider in session.scalars(select(Provider))}
    decision = choose_provider(request, candidates(session, providers.values()))
    if only_if_routed and not decision.routed:
        return decision
    now = utcnow()
    reason = f"{cause}; {decision.reason}"[:300] if cause else decision.reason
    session.add(RoutingDecision(case_id=case.case_id, provider_id=decision.provider_id, reason=reason, at=now))
    case.updated_at = now
    case.provider_id = decision.provider_id
    message: CaseRouted | CaseUnroutable
    if decision.routed:
        case.status = GatewayCaseStatus.routed.value
        message = CaseRouted(case_id=case.case_id, provider_id=decision.provider_id, reason=reason, occurred_at=now)
        _deliver_to(session, case, providers[decision.provider_id])
    else:
        case.status = GatewayCaseStatus.unroutable.value
        message = CaseUnroutable(case_id=case.case_id, reason=reason, occurred_at=now)
    topic = Topic.routed if decision.routed else Topic.unroutable
    enqueue(session, OutboxMessage(topic=topic.value, aggregate_id=case.case_id, payload=message.model_dump(mode="json")))
    session.add(case)
    return decision


def _deliver_to(session: Session, case: GatewayCase, provider: Provider) -> None:
    status_url = f"{get_settings().public_base_url}/v1/provider/referrals/{case.case_id}"
    create_referral_delivery(
        session,
        case_id=case.case_id,
        provider_id=provider.id,
        pull_mode=provider.delivery_mode == "pull",
        payload=referral_created_payload(case.provider_payload, status_url, utcnow()),
    )


def route_waiting_cases(session: Session) -> int:
    """Route every unroutable case that now has a provider, e.g. after one was added."""
    waiting = session.scalars(
        select(GatewayCase)
        .where(GatewayCase.status == GatewayCaseStatus.unroutable.value)
        .order_by(GatewayCase.created_at)  # type: ignore[arg-type]
        .with_for_update()
    )
    return sum(route_case(session, case, only_if_routed=True).routed for case in list(waiting))
