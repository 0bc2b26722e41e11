"""Providers' signed events: checked here, decided by referral_api, answered with its decision.

The gateway does not decide a case's status, nor whether an event may join its log. It checks
what it knows (the case is with this provider or was declined by it, which the routing owns),
keeps the event and its message to referral_api in one transaction, then sends that message
at once and answers with referral_api's decision. When referral_api cannot be reached the
event waits in the outbox: the provider gets ``202`` and the relay applies it, once, later.
"""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar
from datetime import datetime, timedelta
from functools import cache
from typing import Any, Protocol

from sqlalchemy import Update, bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session

from diversion_common import pagination
from diversion_common.audit.recording import answering, rides_on
from diversion_common.contracts import (
    CLOCK_ALLOWANCE,
    CaseProjection,
    CaseStatus,
    ProviderEvent,
    ProviderEventReported,
    ProviderEventType,
    Topic,
)
from diversion_common.database import as_utc, utcnow
from diversion_common.messaging import BatchReceipt, MessageEnvelope, OutboxRelay
from diversion_common.observability import current_request_id
from diversion_common.problems import Conflict, FieldError, NotFound, Unauthenticated, ValidationFailed
from diversion_common.signing import InvalidSignature, verify
from provider_gateway.cases.mirror import mirror, take_view
from provider_gateway.cases.tables import GatewayCase, GatewayCaseStatus
from provider_gateway.deliveries.service import cancel_open_deliveries
from provider_gateway.events.schemas import EventReceipt, EventReceiptPage, EventRefusal
from provider_gateway.events.tables import EventOutcome, ProviderEventReceipt
from provider_gateway.messaging.tables import OutboxMessage
from provider_gateway.metrics import count_event
from provider_gateway.providers.access import must_be_active
from provider_gateway.providers.secrets import keys_in_force
from provider_gateway.routing.service import route_case

_MESSAGE_IDS = uuid.UUID("6f1c2a4e-5b7d-4c1e-9a3f-2d8e0b6c7a15")
_WEBHOOK_ID = re.compile(r"[A-Za-z0-9._:-]{1,100}")
_ANSWERS = {ProviderEventType.referral_accepted.value, ProviderEventType.referral_rejected.value}


class InvalidWebhookSignature(Unauthenticated):
    slug = "invalid-signature"
    title = "The webhook signature is missing, stale or wrong"


class EventRefused(Conflict):
    slug = "event-refused"
    title = "The event cannot be applied to this case"


def verified_webhook_id(session: Session, provider_id: uuid.UUID, headers: dict[str, str], body: bytes) -> str:
    """The event must be signed (Standard Webhooks) with one of the provider's secrets in force."""
    keys = keys_in_force(session, provider_id)
    try:
        webhook_id = verify(keys, headers, body)
    except InvalidSignature as error:
        raise InvalidWebhookSignature(str(error)) from None
    if not _WEBHOOK_ID.fullmatch(webhook_id):
        # It names the receipt in a URL: keep it to characters that need no escaping.
        raise InvalidWebhookSignature("webhook-id must be 1 to 100 of A-Z a-z 0-9 . _ : -")
    return webhook_id


def message_id_for(provider_id: uuid.UUID, webhook_id: str) -> uuid.UUID:
    """The same event always travels under the same message id, so referral_api applies it once."""
    return uuid.uuid5(_MESSAGE_IDS, f"{provider_id}/{webhook_id}")


def receive_event(
    session: Session, provider_id: uuid.UUID, webhook_id: str, event: ProviderEvent, relay: OutboxRelay | None
) -> tuple[ProviderEventReceipt, bool]:
    """Keep the event, have referral_api decide it now if it can; return its receipt and
    whether this webhook-id was seen before.

    A webhook-id seen before gets its first answer, unless that was a refusal referral_api
    said was for now (an appointment's outcome sent before its booking): that one is tried again.
    """
    earlier = session.get(ProviderEventReceipt, (provider_id, webhook_id))
    if earlier is not None and not _may_try_again(earlier):
        return earlier, True
    data = event.data
    # A provider's clock may run the contract's allowance ahead of ours.
    if as_utc(data.occurred_at) > utcnow() + CLOCK_ALLOWANCE:
        raise ValidationFailed(errors=[FieldError(pointer="/data/occurred_at", detail="must not be in the future")])
    must_be_active(session, provider_id)  # a disabled provider answers and reports nothing: 403
    # Locked, so the case's events are kept in the order they came; only what routing knows of it is read.
    routing = session.connection().execute(_CASE_ROUTING, {"case": data.case_id}).first()
    now = utcnow()
    message_id = message_id_for(provider_id, webhook_id)
    _may_report(routing, provider_id)
    if earlier is not None:
        # Locked, so two retries at once send it once; re-read, as another may have just retried it.
        session.refresh(earlier, with_for_update=True)
        if not _may_try_again(earlier):
            return earlier, True
    receipt = earlier or ProviderEventReceipt(provider_id=provider_id, webhook_id=webhook_id, message_id=message_id)
    receipt.event_type, receipt.case_id, receipt.occurred_at, receipt.received_at = event.type, data.case_id, data.occurred_at, now
    receipt.outcome, receipt.decided_at = EventOutcome.pending.value, None
    receipt.refusal_code, receipt.refusal_detail, receipt.refusal_retryable = None, None, False
    message = ProviderEventReported(provider_id=provider_id, webhook_id=webhook_id, received_at=now, event=event)
    session.add(receipt)
    # Sent at once by this request, so leased to it; if the process dies first, the lease runs out
    # and the relay sends it. (Not `enqueue`: waking the relay would only race this request.)
    send_now = relay is not None and relay.may_send_now(session, data.case_id, now)
    # A retry travels under the same message id: referral_api kept nothing of the refused try.
    # (A first try has no message yet: it is written with its receipt.)
    retried = session.get(OutboxMessage, message_id) if earlier is not None else None
    outbox = retried or OutboxMessage(id=message_id, topic=Topic.provider_event.value)
    outbox.aggregate_id, outbox.payload, outbox.payload_sha256 = data.case_id, message.model_dump(mode="json"), None
    outbox.created_at, outbox.refused_at, outbox.sent_at, outbox.last_error = now, None, None, None
    outbox.available_at = now + (relay.lease if relay is not None and send_now else timedelta(0))
    outbox.request_id = current_request_id()  # this call's: the police callback it causes carries it
    envelope = MessageEnvelope(
        id=message_id, topic=outbox.topic, aggregate_id=data.case_id, payload=outbox.payload, created_at=now, request_id=outbox.request_id
    )
    session.add(outbox)
    # Sent now: referral_api's decision (200 or 409) is the answer, recorded with it (record_outcome).
    answering(None if send_now else 202)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()  # the same event, sent twice at once: answer as the first copy
        earlier = session.get(ProviderEventReceipt, (provider_id, webhook_id))
        if earlier is None:
            raise
        return earlier, True
    if relay is not None and send_now:
        decided: dict[uuid.UUID, dict[str, Any]] = {}
        token = _decided_by_this_call.set(decided)
        try:
            sent = relay.send_now(envelope)
        finally:
            _decided_by_this_call.reset(token)
        if not sent:
            answering(202)  # kept for the relay: the answer says so
        if message_id in decided:
            # What record_outcome wrote in the relay's transaction, taken as committed: not read back.
            for name, value in decided[message_id].items():
                set_committed_value(receipt, name, value)
        else:
            # Unanswered, or decided by another pass first: the receipt as it stands.
            session.refresh(receipt)
            session.commit()  # a read: ended here, not when the call ends (on SQLite it holds the one connection)
    elif relay is not None:
        relay.wake()  # an earlier message of the case goes first; the receipt stays as committed: pending
    return receipt, False


# Filled by record_outcome while a call sends its event at once (same thread): the decision it
# wrote, by message id, so the call answers with it without reading its receipt back (py-spy:
# that read was 8% of the gateway's CPU per event).
_decided_by_this_call: ContextVar[dict[uuid.UUID, dict[str, Any]] | None] = ContextVar("decided_by_this_call", default=None)


def _may_try_again(receipt: ProviderEventReceipt) -> bool:
    return receipt.outcome == EventOutcome.refused.value and receipt.refusal_retryable


_CASE_COLUMNS = GatewayCase.__table__.c  # type: ignore[attr-defined]
_CASE_ROUTING = select(_CASE_COLUMNS.provider_id, _CASE_COLUMNS.declined_by).where(_CASE_COLUMNS.case_id == bindparam("case")).with_for_update()


class _Routing(Protocol):
    provider_id: uuid.UUID | None
    declined_by: list[str] | None


def _may_report(case: _Routing | None, provider_id: uuid.UUID) -> None:
    """What the routing knows, and only that: whether the provider may know of the case at all (it is
    with it, or it declined it; a case taken from a disabled provider is no longer its own: 404).
    Whether it still may report on it (declined, answered already, ended) is referral_api's to decide."""
    if case is None or (case.provider_id != provider_id and str(provider_id) not in (case.declined_by or [])):
        raise NotFound("no such referral for this provider")


def record_outcome(session: Session, envelope: MessageEnvelope, answer: BatchReceipt) -> None:
    """referral_api's decision on a provider's event, in the relay's transaction
    (messaging/answers.py calls it for that topic)."""
    projection = CaseProjection.model_validate(answer.result) if answer.applied and answer.result is not None else None
    # One conditional UPDATE of a receipt still pending, not a locked load and a flush: the
    # gateway's share of every event (docs/PERFORMANCE.md).
    decided = session.connection().execute(_decision(answer.applied), {
        "message": envelope.id,
        "now": utcnow(),
        "code": (answer.refusal_code or "refused")[:40],
        "detail": (answer.problem or "refused")[:300],
        "retryable": answer.retryable,
        "case_status": projection.status.value if projection is not None else None,
        "case_version": projection.version if projection is not None else None,
    }).first()
    if decided is None:
        return  # decided already (a repeat), or not an event's message
    told = _decided_by_this_call.get()
    if told is not None:
        told[envelope.id] = {name: getattr(decided, name) for name in _DECISION_COLUMNS}
    answering(200 if answer.applied else EventRefused.status)  # the call that sent it now, if any, answers so
    rides_on(session)  # the call's audit record commits with its decision
    if not answer.applied:
        count_event(session, decided.event_type, EventOutcome.refused.value, (answer.refusal_code or "refused")[:40])
        return
    count_event(session, decided.event_type, EventOutcome.applied.value)
    if decided.event_type not in _ANSWERS:
        # Most events: no routing to move on (only an answer to the referral does): the mirror takes the view.
        if projection is not None:
            take_view(session, projection)
        return
    case = session.get(GatewayCase, decided.case_id, with_for_update=True)
    if case is None:
        return
    # Also for a repeat: referral_api may have applied it while its first answer was lost.
    _route_on(session, case, decided, projection)
    if projection is not None:
        mirror(session, case, status=projection.status, version=projection.version, programme=projection.programme)


@cache
def _decision(applied: bool) -> Update:
    receipts = ProviderEventReceipt.__table__.c  # type: ignore[attr-defined]
    values = (
        {receipts.outcome: EventOutcome.applied.value, receipts.case_status: bindparam("case_status"), receipts.case_version: bindparam("case_version")}
        if applied
        else {
            receipts.outcome: EventOutcome.refused.value, receipts.refusal_code: bindparam("code"),
            receipts.refusal_detail: bindparam("detail"), receipts.refusal_retryable: bindparam("retryable"),
        }
    )
    return (
        update(ProviderEventReceipt.__table__)  # type: ignore[attr-defined]
        .where(receipts.message_id == bindparam("message"), receipts.outcome == EventOutcome.pending.value)
        .values({receipts.decided_at: bindparam("now"), **values})
        .returning(receipts.provider_id, receipts.case_id, receipts.event_type, receipts.occurred_at, *(receipts[name] for name in _DECISION_COLUMNS))
    )


# What a decision writes on a receipt: returned by its UPDATE, so the call that sent the event
# answers with exactly what was written.
_DECISION_COLUMNS = ("outcome", "decided_at", "case_status", "case_version", "refusal_code", "refusal_detail", "refusal_retryable")


class _Decided(Protocol):
    provider_id: uuid.UUID
    event_type: str
    occurred_at: datetime


def _route_on(session: Session, case: GatewayCase, receipt: _Decided, projection: CaseProjection | None) -> None:
    """An accepted referral stays; a rejected one goes to the next provider (routing's part),
    but only while referral_api still has it waiting at this provider."""
    if case.provider_id != receipt.provider_id or case.status != GatewayCaseStatus.routed.value:
        return
    if projection is not None and projection.status is not CaseStatus.routed and receipt.event_type == ProviderEventType.referral_rejected.value:
        return
    if receipt.event_type == ProviderEventType.referral_accepted.value:
        case.status = GatewayCaseStatus.accepted.value
        case.accepted_at = receipt.occurred_at
        case.updated_at = utcnow()
        session.add(case)
    elif receipt.event_type == ProviderEventType.referral_rejected.value:
        # A new list, so the JSON column sees the change.
        case.declined_by = [*(case.declined_by or []), str(receipt.provider_id)]
        cancel_open_deliveries(session, case.case_id)
        route_case(session, case)


def to_public(receipt: ProviderEventReceipt, *, duplicate: bool) -> EventReceipt:
    refused = receipt.outcome == EventOutcome.refused.value
    return EventReceipt(
        webhook_id=receipt.webhook_id,
        event_type=receipt.event_type,
        case_id=receipt.case_id,
        outcome=EventOutcome(receipt.outcome),
        duplicate=duplicate,
        case_status=receipt.case_status,  # type: ignore[arg-type]
        case_version=receipt.case_version,
        refusal=EventRefusal(
            code=receipt.refusal_code or "refused", detail=receipt.refusal_detail or "", retryable=receipt.refusal_retryable
        )
        if refused
        else None,
        received_at=as_utc(receipt.received_at),
        links={"self": receipt_location(receipt.webhook_id)},
    )


def receipt_location(webhook_id: str) -> str:
    return f"/v1/provider/events/{webhook_id}"


def refusal_problem(receipt: ProviderEventReceipt) -> EventRefused:
    return EventRefused(
        receipt.refusal_detail or "refused", code=receipt.refusal_code, retryable=receipt.refusal_retryable,
        receipt=receipt_location(receipt.webhook_id),
    )


def read_receipt(session: Session, provider_id: uuid.UUID, webhook_id: str) -> EventReceipt:
    receipt = session.get(ProviderEventReceipt, (provider_id, webhook_id))
    if receipt is None:
        raise NotFound("no event with this webhook-id from you")
    return to_public(receipt, duplicate=False)


def list_receipts(
    session: Session, *, outcome: EventOutcome | None, provider_id: uuid.UUID | None, cursor: str | None, limit: int
) -> EventReceiptPage:
    """For the administrator: e.g. every event still pending, or refused, with why."""
    query = select(ProviderEventReceipt)
    if outcome is not None:
        query = query.where(ProviderEventReceipt.outcome == outcome.value)
    if provider_id is not None:
        query = query.where(ProviderEventReceipt.provider_id == provider_id)
    page = pagination.keyset_page(
        session, query, at=ProviderEventReceipt.received_at, key=ProviderEventReceipt.message_id,  # type: ignore[arg-type]
        cursor=cursor, limit=limit, key_from_text=pagination.uuid_key, key_to_text=pagination.uuid_text,
    )
    return EventReceiptPage(items=[to_public(r, duplicate=False) for r in page.rows], next_cursor=page.next_cursor)
