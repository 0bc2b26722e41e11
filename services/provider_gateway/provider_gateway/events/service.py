"""What a provider's answer does to a case: accepted, or rejected and routed on."""

from __future__ import annotations

import uuid

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from diversion_common.database import utcnow
from diversion_common.messaging import enqueue
from diversion_common.problems import Conflict, NotFound, Unauthenticated
from diversion_common.signing import InvalidSignature, verify
from provider_gateway.cases.tables import GatewayCase, GatewayCaseStatus
from provider_gateway.deliveries.service import cancel_open_deliveries
from provider_gateway.events.schemas import EventReceipt, ReferralAccepted, ReferralRejected
from provider_gateway.events.tables import ProviderEventReceipt
from provider_gateway.messaging.tables import OutboxMessage
from provider_gateway.providers.secrets import secrets_in_force
from provider_gateway.routing.service import route_case

ACCEPTED = "case.accepted"


class InvalidWebhookSignature(Unauthenticated):
    slug = "invalid-signature"
    title = "The webhook signature is missing, stale or wrong"


def verified_webhook_id(session: Session, provider_id: uuid.UUID, headers: dict[str, str], body: bytes) -> str:
    """The event must be signed (Standard Webhooks) with one of the provider's secrets in force."""
    keys = [s.secret for s in secrets_in_force(session, [provider_id]).get(provider_id, [])]
    try:
        webhook_id = verify(keys, headers, body)
    except InvalidSignature as error:
        raise InvalidWebhookSignature(str(error)) from None
    if len(webhook_id) > 100:
        raise InvalidWebhookSignature("webhook-id is longer than 100 characters")
    return webhook_id


def receive_event(
    session: Session, provider_id: uuid.UUID, webhook_id: str, event: ReferralAccepted | ReferralRejected
) -> EventReceipt:
    case_id = event.data.case_id
    earlier = session.get(ProviderEventReceipt, (provider_id, webhook_id))
    if earlier is not None:
        # Answer about the case the first event named: a repeat id says nothing about another case.
        return _receipt(session, webhook_id, earlier.case_id, duplicate=True)
    case = session.get(GatewayCase, case_id, with_for_update=True)
    if case is None or (case.provider_id != provider_id and str(provider_id) not in (case.declined_by or [])):
        raise NotFound("no such referral for this provider")
    if case.provider_id != provider_id or case.status != GatewayCaseStatus.routed.value:
        raise Conflict("the referral is no longer waiting for your answer", case_status=case.status)
    session.add(ProviderEventReceipt(provider_id=provider_id, webhook_id=webhook_id, event_type=event.type, case_id=case_id))
    if isinstance(event, ReferralAccepted):
        _accept(session, case, provider_id)
    else:
        _reject(session, case, provider_id)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()  # the same event, sent twice at once: the other copy was applied
        earlier = session.get(ProviderEventReceipt, (provider_id, webhook_id))
        if earlier is None:
            raise
        return _receipt(session, webhook_id, earlier.case_id, duplicate=True)
    return EventReceipt(webhook_id=webhook_id, duplicate=False, case_status=GatewayCaseStatus(case.status))


def _accept(session: Session, case: GatewayCase, provider_id: uuid.UUID) -> None:
    case.status = GatewayCaseStatus.accepted.value
    case.updated_at = utcnow()
    session.add(case)
    enqueue(
        session,
        OutboxMessage(topic=ACCEPTED, aggregate_id=case.case_id, payload={"case_id": str(case.case_id), "provider_id": str(provider_id)}),
    )


def _reject(session: Session, case: GatewayCase, provider_id: uuid.UUID) -> None:
    # A new list, so the JSON column sees the change.
    case.declined_by = [*(case.declined_by or []), str(provider_id)]
    cancel_open_deliveries(session, case.case_id)
    route_case(session, case)


def _receipt(session: Session, webhook_id: str, case_id: uuid.UUID, *, duplicate: bool) -> EventReceipt:
    case = session.get(GatewayCase, case_id)
    status = GatewayCaseStatus(case.status) if case else GatewayCaseStatus.withdrawn
    return EventReceipt(webhook_id=webhook_id, duplicate=duplicate, case_status=status)
