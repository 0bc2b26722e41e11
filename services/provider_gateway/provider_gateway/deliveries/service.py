"""Deliveries to providers: created when a case is routed, tried by the worker, shown to the admin.

The delivery rules themselves (retries, circuit, redelivery, the attempt log) are
diversion_common.webhooks'; what is the gateway's own is here: what a provider is
sent, pull mode, and that a case no longer with a provider is never sent to it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlmodel import Session

from diversion_common.contracts import (
    CaseNotice,
    CaseNoticeToProvider,
    ReferralCreated,
    ReferralCreatedData,
    ReferralWithdrawn,
    ReferralWithdrawnData,
    webhook_payload,
)
from diversion_common.database import utcnow
from diversion_common.erasure import erase_payload
from diversion_common.problems import Conflict, NotFound
from diversion_common.webhooks import service as webhooks
from diversion_common.webhooks.addressing import must_go_where_it_went
from diversion_common.webhooks.service import new_delivery_id  # noqa: F401 -- part of this module's interface
from provider_gateway.cases.tables import GatewayCase, GatewayCaseStatus
from provider_gateway.config import get_settings
from provider_gateway.deliveries.schemas import DeliveryDetail, DeliveryPage, DeliveryPublic, PulledReferral, PulledReferrals
from provider_gateway.deliveries.tables import GATEWAY_DELIVERIES, Delivery, DeliveryStatus
from provider_gateway.providers.access import is_active
from provider_gateway.providers.tables import Provider

REFERRAL_CREATED = ReferralCreated.model_fields["type"].default
REFERRAL_WITHDRAWN = ReferralWithdrawn.model_fields["type"].default
CASE_NOTICE = CaseNoticeToProvider.model_fields["type"].default


def referral_created_payload(provider_payload: dict[str, Any], status_url: str, now: datetime) -> dict[str, Any]:
    """The Standard Webhooks payload: type, timestamp, data; only what the provider needs."""
    data = ReferralCreatedData.model_validate({**provider_payload, "links": {"status": status_url}})
    return webhook_payload(ReferralCreated(timestamp=now, data=data))


def _first_status(pull_mode: bool) -> str:
    return (DeliveryStatus.awaiting_pull if pull_mode else DeliveryStatus.pending).value


def create_referral_delivery(
    session: Session, *, case_id: uuid.UUID, provider_id: uuid.UUID, pull_mode: bool, payload: dict[str, Any]
) -> Delivery:
    """Add the delivery to the caller's transaction; the worker wakes on commit."""
    return webhooks.add_delivery(
        session, Delivery, event_type=REFERRAL_CREATED, payload=payload, status=_first_status(pull_mode),
        case_id=case_id, provider_id=provider_id,
    )


def cancel_open_deliveries(session: Session, case_id: uuid.UUID) -> None:
    session.execute(
        update(Delivery)
        .where(
            Delivery.case_id == case_id,
            Delivery.status.in_([DeliveryStatus.pending.value, DeliveryStatus.awaiting_pull.value]),  # type: ignore[attr-defined]
        )
        .values(status=DeliveryStatus.cancelled.value, updated_at=utcnow())
    )


def cancel_undelivered_referrals(session: Session, provider_id: uuid.UUID) -> None:
    """A disabled provider is sent no one's details: referrals not yet delivered to it are cancelled.

    (Its cases still waiting for an answer went to another provider; one it accepted it
    has read already, and reads again once enabled.)
    """
    session.execute(
        update(Delivery)
        .where(
            Delivery.provider_id == provider_id,  # type: ignore[arg-type]
            Delivery.event_type == REFERRAL_CREATED,
            Delivery.status.in_([DeliveryStatus.pending.value, DeliveryStatus.awaiting_pull.value]),  # type: ignore[attr-defined]
        )
        .values(status=DeliveryStatus.cancelled.value, updated_at=utcnow())
    )


def switch_delivery_mode(session: Session, provider_id: uuid.UUID, *, pull: bool) -> None:
    """Undelivered messages follow the provider to its new mode: listed for pulling, or sent."""
    before, after = (DeliveryStatus.pending, DeliveryStatus.awaiting_pull) if pull else (DeliveryStatus.awaiting_pull, DeliveryStatus.pending)
    session.execute(
        update(Delivery)
        .where(Delivery.provider_id == provider_id, Delivery.status == before.value)  # type: ignore[arg-type]
        .values(status=after.value, next_attempt_at=utcnow(), updated_at=utcnow())
    )


def tell_provider_of_withdrawal(session: Session, case_id: uuid.UUID, provider_id: uuid.UUID, pull_mode: bool, reason: str) -> None:
    """A provider that already has the referral is told it is withdrawn, so it stops contacting the person."""
    had_it = session.scalars(
        select(Delivery.id).where(
            Delivery.case_id == case_id,
            Delivery.provider_id == provider_id,  # type: ignore[arg-type]
            Delivery.event_type == REFERRAL_CREATED,
            Delivery.status.in_([DeliveryStatus.delivered.value, DeliveryStatus.acknowledged.value]),  # type: ignore[attr-defined]
        )
    ).first()
    if had_it is None:
        return
    payload = webhook_payload(ReferralWithdrawn(timestamp=utcnow(), data=ReferralWithdrawnData(case_id=case_id, reason=reason)))
    webhooks.add_delivery(
        session, Delivery, event_type=REFERRAL_WITHDRAWN, payload=payload, status=_first_status(pull_mode),
        case_id=case_id, provider_id=provider_id,
    )


def tell_provider_of_notice(session: Session, case: GatewayCase, notice: CaseNotice) -> None:
    """A warning (a first unacceptable absence) or a deadline reminder, for the provider the case is with."""
    if case.provider_id is None:
        return
    provider = session.get(Provider, case.provider_id)
    if provider is None or not provider.active:
        return
    payload = webhook_payload(CaseNoticeToProvider(timestamp=utcnow(), data=notice))
    webhooks.add_delivery(
        session, Delivery, event_type=CASE_NOTICE, payload=payload, status=_first_status(provider.delivery_mode == "pull"),
        case_id=case.case_id, provider_id=case.provider_id,
    )


# --- reading, for the admin and for pull-mode providers -----------------------


def to_public(delivery: Delivery) -> DeliveryPublic:
    return webhooks.to_public(delivery, DeliveryPublic)


def list_deliveries(
    session: Session, *, status: DeliveryStatus | None, provider_id: uuid.UUID | None, cursor: str | None, limit: int
) -> DeliveryPage:
    page = webhooks.page_of_deliveries(
        session, Delivery, status=status.value if status else None, endpoint_id=provider_id, cursor=cursor, limit=limit
    )
    return DeliveryPage(items=[to_public(d) for d in page.rows], next_cursor=page.next_cursor)


def delivery_detail(session: Session, delivery_id: str) -> DeliveryDetail:
    delivery = webhooks.get_delivery(session, Delivery, delivery_id)
    return DeliveryDetail(
        **to_public(delivery).model_dump(), attempts_log=webhooks.attempts_log(session, GATEWAY_DELIVERIES.attempt, delivery.id)
    )


def redeliver_by_id(session: Session, delivery_id: str) -> DeliveryPublic:
    delivery = webhooks.get_delivery(session, Delivery, delivery_id)
    webhooks.must_be_redeliverable(delivery)
    case = session.get(GatewayCase, delivery.case_id)
    # Never re-send a person's data to a provider the case is no longer with (withdrawn, declined, re-routed).
    if case is None or case.provider_id != delivery.provider_id or case.status not in (
        GatewayCaseStatus.routed.value, GatewayCaseStatus.accepted.value
    ):
        raise Conflict("the case is no longer with this provider", case_status=case.status if case else None)
    if delivery.event_type == REFERRAL_CREATED and not is_active(session, delivery.provider_id):
        raise Conflict("the provider is disabled: it is sent no referrals")
    provider = session.get(Provider, delivery.provider_id)
    # A changed webhook_url gets no old messages (diversion_common/webhooks/addressing.py): 409.
    must_go_where_it_went(delivery, provider.webhook_url if provider is not None else None)
    webhooks.redeliver(session, delivery, rebuild=_rebuilt_payload)
    session.commit()
    return to_public(delivery)


def _rebuilt_payload(session: Session, delivery: Delivery) -> dict[str, Any] | None:
    """A delivered referral's payload was erased: it is built again from the gateway's copy of the
    referral, which the gateway holds while the case is open with this provider (checked above),
    so the provider gets what it would pull now, under the same webhook-id. Nothing else is rebuilt."""
    if delivery.event_type != REFERRAL_CREATED:
        return None
    case = session.get(GatewayCase, delivery.case_id)
    if case is None or case.provider_payload is None:
        return None
    status_url = f"{get_settings().public_base_url}/v1/provider/referrals/{case.case_id}"
    return referral_created_payload(case.provider_payload, status_url, utcnow())


def pulled_for(session: Session, provider_id: uuid.UUID, limit: int) -> PulledReferrals:
    query = select(Delivery).where(Delivery.provider_id == provider_id, Delivery.status == DeliveryStatus.awaiting_pull.value)  # type: ignore[arg-type]
    if not is_active(session, provider_id):
        query = query.where(Delivery.event_type == REFERRAL_WITHDRAWN)  # a disabled provider pulls no new referral
    rows = session.scalars(query.order_by(Delivery.created_at, Delivery.id).limit(limit))  # type: ignore[arg-type]
    return PulledReferrals(
        items=[PulledReferral(webhook_id=d.id, case_id=d.case_id, message=d.payload) for d in rows]
    )


def acknowledge(session: Session, provider_id: uuid.UUID, case_id: uuid.UUID) -> DeliveryPublic:
    """Mark every message about the case waiting for this provider as fetched; answer with the latest."""
    deliveries = list(
        session.scalars(
            select(Delivery)
            .where(
                Delivery.provider_id == provider_id,  # type: ignore[arg-type]
                Delivery.case_id == case_id,
                Delivery.status != DeliveryStatus.cancelled.value,
            )
            .order_by(Delivery.created_at)  # type: ignore[arg-type]
        )
    )
    if not deliveries:
        raise NotFound("no such referral for this provider")
    now = utcnow()
    for delivery in deliveries:
        if delivery.status == DeliveryStatus.awaiting_pull.value:
            delivery.status = DeliveryStatus.acknowledged.value
            delivery.delivered_at = delivery.updated_at = now
            erase_payload(delivery)  # the provider has it: keep only the digest of what it got
            session.add(delivery)
    session.commit()
    return to_public(deliveries[-1])
