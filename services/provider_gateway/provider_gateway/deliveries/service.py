"""Deliveries: created when a case is routed, tried by the worker, shown to the admin."""

from __future__ import annotations

import uuid

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from diversion_common import pagination
from diversion_common.database import as_utc, utcnow
from diversion_common.messaging import enqueue
from diversion_common.problems import Conflict, NotFound
from provider_gateway.deliveries.schemas import (
    AttemptPublic,
    DeliveryDetail,
    DeliveryPage,
    DeliveryPublic,
    PulledReferral,
    PulledReferrals,
)
from provider_gateway.cases.tables import GatewayCase, GatewayCaseStatus
from provider_gateway.deliveries.policy import CircuitPolicy, Outcome, RetryPolicy
from provider_gateway.deliveries.tables import Delivery, DeliveryAttempt, DeliveryStatus, ProviderCircuit

REFERRAL_CREATED = "referral.created"
REFERRAL_WITHDRAWN = "referral.withdrawn"


def new_delivery_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


def referral_created_payload(provider_payload: dict[str, Any], status_url: str, now: datetime) -> dict[str, Any]:
    """The Standard Webhooks payload: type, timestamp, data; only what the provider needs."""
    return {
        "type": REFERRAL_CREATED,
        "timestamp": now.isoformat(),
        "data": {**provider_payload, "links": {"status": status_url}},
    }


def create_referral_delivery(
    session: Session, *, case_id: uuid.UUID, provider_id: uuid.UUID, pull_mode: bool, payload: dict[str, Any]
) -> Delivery:
    """Add the delivery to the caller's transaction; the worker wakes on commit."""
    now = utcnow()
    delivery = Delivery(
        id=new_delivery_id(),
        case_id=case_id,
        provider_id=provider_id,
        event_type=REFERRAL_CREATED,
        payload=payload,
        status=(DeliveryStatus.awaiting_pull if pull_mode else DeliveryStatus.pending).value,
        next_attempt_at=now,
        created_at=now,
        updated_at=now,
    )
    enqueue(session, delivery)
    return delivery


def cancel_open_deliveries(session: Session, case_id: uuid.UUID) -> None:
    session.execute(
        update(Delivery)
        .where(
            Delivery.case_id == case_id,
            Delivery.status.in_([DeliveryStatus.pending.value, DeliveryStatus.awaiting_pull.value]),  # type: ignore[attr-defined]
        )
        .values(status=DeliveryStatus.cancelled.value, updated_at=utcnow())
    )


def switch_delivery_mode(session: Session, provider_id: uuid.UUID, *, pull: bool) -> None:
    """Undelivered messages follow the provider to its new mode: listed for pulling, or sent."""
    before, after = (DeliveryStatus.pending, DeliveryStatus.awaiting_pull) if pull else (DeliveryStatus.awaiting_pull, DeliveryStatus.pending)
    session.execute(
        update(Delivery)
        .where(Delivery.provider_id == provider_id, Delivery.status == before.value)
        .values(status=after.value, next_attempt_at=utcnow(), updated_at=utcnow())
    )


def tell_provider_of_withdrawal(session: Session, case_id: uuid.UUID, provider_id: uuid.UUID, pull_mode: bool, reason: str) -> None:
    """A provider that already has the referral is told it is withdrawn, so it stops contacting the person."""
    had_it = session.scalars(
        select(Delivery.id).where(
            Delivery.case_id == case_id,
            Delivery.provider_id == provider_id,
            Delivery.event_type == REFERRAL_CREATED,
            Delivery.status.in_([DeliveryStatus.delivered.value, DeliveryStatus.acknowledged.value]),  # type: ignore[attr-defined]
        )
    ).first()
    if had_it is None:
        return
    now = utcnow()
    enqueue(
        session,
        Delivery(
            id=new_delivery_id(),
            case_id=case_id,
            provider_id=provider_id,
            event_type=REFERRAL_WITHDRAWN,
            payload={"type": REFERRAL_WITHDRAWN, "timestamp": now.isoformat(), "data": {"case_id": str(case_id), "reason": reason}},
            status=(DeliveryStatus.awaiting_pull if pull_mode else DeliveryStatus.pending).value,
            next_attempt_at=now,
            created_at=now,
            updated_at=now,
        ),
    )


@dataclass(frozen=True)
class AttemptResult:
    delivery_id: str
    provider_id: uuid.UUID
    started_at: datetime
    status_code: int | None
    latency_ms: float
    error: str | None
    outcome: Outcome
    retry_after: float | None


def record_attempt(session: Session, result: AttemptResult, retry: RetryPolicy, circuit: CircuitPolicy) -> str:
    """Log the try, move the delivery on, and update the provider's circuit. Returns the new status."""
    now = utcnow()
    delivery = session.get(Delivery, result.delivery_id)
    assert delivery is not None
    delivery.attempts += 1
    session.add(
        DeliveryAttempt(
            delivery_id=delivery.id,
            attempt=delivery.attempts,
            started_at=result.started_at,
            status_code=result.status_code,
            latency_ms=round(result.latency_ms, 2),
            error=result.error,
            outcome=result.outcome.value,
        )
    )
    _update_circuit(session, result, circuit, now)
    if delivery.status != DeliveryStatus.pending.value:
        return delivery.status  # cancelled while in flight: keep the record of the try only
    delivery.updated_at = now
    if result.outcome is Outcome.delivered:
        delivery.status = DeliveryStatus.delivered.value
        delivery.delivered_at = now
        delivery.last_error = None
    elif result.outcome is Outcome.retry:
        delay = retry.delay(delivery.attempts, result.retry_after)
        delivery.last_error = result.error or f"HTTP {result.status_code}"
        if delay is None:
            delivery.status = DeliveryStatus.dead.value
        else:
            delivery.next_attempt_at = now + delay
    else:
        delivery.status = DeliveryStatus.dead.value
        delivery.last_error = f"HTTP {result.status_code}: refused, not retried"
    session.add(delivery)
    return delivery.status


def _locked_circuit(session: Session, provider_id: uuid.UUID) -> ProviderCircuit:
    """The provider's circuit row, locked until commit, so concurrent tries count every failure."""
    circuit = session.get(ProviderCircuit, provider_id, with_for_update=True)
    if circuit is None:
        try:
            with session.begin_nested():
                session.add(ProviderCircuit(provider_id=provider_id))
        except IntegrityError:
            pass  # another worker made it first
        circuit = session.get(ProviderCircuit, provider_id, with_for_update=True, populate_existing=True)
    assert circuit is not None
    return circuit


def _update_circuit(session: Session, result: AttemptResult, policy: CircuitPolicy, now: datetime) -> None:
    circuit = _locked_circuit(session, result.provider_id)
    if result.outcome is Outcome.retry:
        circuit.consecutive_failures += 1
        pause = policy.pause_after(circuit.consecutive_failures)
        circuit.paused_until = now + pause if pause else None
    else:
        # Any answer other than a failure means the provider is up again.
        circuit.consecutive_failures = 0
        circuit.paused_until = None
    circuit.updated_at = now
    session.add(circuit)


def redeliver(session: Session, delivery: Delivery) -> Delivery:
    """Give a dead (or delivered) delivery a fresh schedule, under the same webhook-id."""
    delivery.status = DeliveryStatus.pending.value
    delivery.attempts = 0
    delivery.next_attempt_at = utcnow()
    delivery.updated_at = utcnow()
    enqueue(session, delivery)
    return delivery


def circuits(session: Session) -> dict[uuid.UUID, ProviderCircuit]:
    """Providers with recent failures, by id."""
    return {c.provider_id: c for c in session.scalars(select(ProviderCircuit).where(ProviderCircuit.consecutive_failures > 0))}


def lease_until(now: datetime, seconds: float) -> datetime:
    return now + timedelta(seconds=seconds)


# --- reading, for the admin and for pull-mode providers -----------------------


def to_public(delivery: Delivery) -> DeliveryPublic:
    return DeliveryPublic(
        id=delivery.id,
        case_id=delivery.case_id,
        provider_id=delivery.provider_id,
        event_type=delivery.event_type,
        status=DeliveryStatus(delivery.status),
        attempts=delivery.attempts,
        next_attempt_at=as_utc(delivery.next_attempt_at) if delivery.status == DeliveryStatus.pending.value else None,
        last_error=delivery.last_error,
        created_at=as_utc(delivery.created_at),
        delivered_at=as_utc(delivery.delivered_at) if delivery.delivered_at else None,
    )


def list_deliveries(
    session: Session, *, status: DeliveryStatus | None, provider_id: uuid.UUID | None, cursor: str | None, limit: int
) -> DeliveryPage:
    query = select(Delivery)
    if status is not None:
        query = query.where(Delivery.status == status.value)
    if provider_id is not None:
        query = query.where(Delivery.provider_id == provider_id)
    page = pagination.keyset_page(
        session, query, at=Delivery.created_at, key=Delivery.id, cursor=cursor, limit=limit  # type: ignore[arg-type]
    )
    return DeliveryPage(items=[to_public(d) for d in page.rows], next_cursor=page.next_cursor)


def _get(session: Session, delivery_id: str) -> Delivery:
    delivery = session.get(Delivery, delivery_id)
    if delivery is None:
        raise NotFound("no such delivery")
    return delivery


def delivery_detail(session: Session, delivery_id: str) -> DeliveryDetail:
    delivery = _get(session, delivery_id)
    attempts = session.scalars(
        select(DeliveryAttempt).where(DeliveryAttempt.delivery_id == delivery.id).order_by(DeliveryAttempt.attempt)  # type: ignore[arg-type]
    )
    return DeliveryDetail(
        **to_public(delivery).model_dump(),
        attempts_log=[
            AttemptPublic(
                attempt=a.attempt, started_at=as_utc(a.started_at), status_code=a.status_code,
                latency_ms=a.latency_ms, error=a.error, outcome=a.outcome,
            )
            for a in attempts
        ],
    )


REDELIVERABLE = (DeliveryStatus.dead.value, DeliveryStatus.delivered.value)


def redeliver_by_id(session: Session, delivery_id: str) -> DeliveryPublic:
    delivery = _get(session, delivery_id)
    if delivery.status not in REDELIVERABLE:
        raise Conflict(f"a {delivery.status} delivery cannot be redelivered", delivery_status=delivery.status)
    case = session.get(GatewayCase, delivery.case_id)
    # Never re-send a person's data to a provider the case is no longer with (withdrawn, declined, re-routed).
    if case is None or case.provider_id != delivery.provider_id or case.status not in (
        GatewayCaseStatus.routed.value, GatewayCaseStatus.accepted.value
    ):
        raise Conflict("the case is no longer with this provider", case_status=case.status if case else None)
    redeliver(session, delivery)
    session.commit()
    return to_public(delivery)


def pulled_for(session: Session, provider_id: uuid.UUID, limit: int) -> PulledReferrals:
    rows = session.scalars(
        select(Delivery)
        .where(Delivery.provider_id == provider_id, Delivery.status == DeliveryStatus.awaiting_pull.value)
        .order_by(Delivery.created_at, Delivery.id)  # type: ignore[arg-type]
        .limit(limit)
    )
    return PulledReferrals(
        items=[PulledReferral(webhook_id=d.id, case_id=d.case_id, message=d.payload) for d in rows]
    )


def acknowledge(session: Session, provider_id: uuid.UUID, case_id: uuid.UUID) -> DeliveryPublic:
    """Mark every message about the case waiting for this provider as fetched; answer with the latest."""
    deliveries = list(
        session.scalars(
            select(Delivery)
            .where(
                Delivery.provider_id == provider_id,
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
            session.add(delivery)
    session.commit()
    return to_public(deliveries[-1])
