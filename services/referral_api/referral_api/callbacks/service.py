"""Police systems are told, not only asked: each status change they act on is sent to the
force's callback as a thin signed webhook, through the shared delivery machinery.

The same machinery tells a court's or a YJU's own system of the breach requests addressed
to it: every receiver is a *recipient* (callbacks/recipients.py), keyed by a force
code, ``court:<court>`` or ``yju:<force>``, with its own URL and signing secrets.

The message is thin on purpose (Standard Webhooks shape): the case id, the force's
own reference, the new status and the case's version, and a link to read the case
with the force's key. No personal data travels in it; a receiver that gets two
changes out of order keeps the higher version.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from diversion_common.audit.recording import answering
from diversion_common.contracts import CaseLinks, CaseStatus, CaseStatusChangedData, CaseStatusChangedToPolice, webhook_payload
from diversion_common.database import as_utc, utcnow
from diversion_common.problems import Conflict, NotFound
from diversion_common.webhooks import service as webhooks
from diversion_common.webhooks.addressing import must_go_where_it_went
from diversion_common.webhooks.secrets import issue_secret
from diversion_common.webhooks.tables import DeliveryStatus
from referral_api.config import get_settings
from referral_api.callbacks.schemas import (
    CallbackDeliveryDetail,
    CallbackDeliveryPage,
    CallbackDeliveryPublic,
    CallbackPublic,
    PoliceCallbackSet,
)
from referral_api.callbacks.recipients import RecipientKind, recipient_kind
from referral_api.callbacks.tables import CALLBACK_DELIVERIES, CallbackDelivery, CallbackSecret, CallbackEndpoint
from referral_api.reference.service import in_use_codes
from referral_api.reference.tables import Court, Force

CASE_STATUS_CHANGED = CaseStatusChangedToPolice.model_fields["type"].default

# The statuses a police system acts on: the provider took the case, the person engaged
# or refused, the case ended, or the YJU kept it from diversion. Routing steps in between
# (awaiting_routing, routed, unroutable) are ours to handle, and a withdrawal is the
# force's own act, so neither is sent.
NOTIFIED_STATUSES = frozenset(
    {
        CaseStatus.accepted_by_provider,
        CaseStatus.in_programme,
        CaseStatus.engagement_refused,
        CaseStatus.completed,
        CaseStatus.closed_by_provider,
        CaseStatus.declined_by_yju,
        CaseStatus.breach_requested,
        CaseStatus.breach_decided,
    }
)


def status_changed_payload(*, case_id: uuid.UUID, police_reference: str, status: CaseStatus, version: int, now: datetime) -> dict[str, Any]:
    case_url = f"{get_settings().public_base_url.rstrip('/')}/v1/referrals/{case_id}"
    data = CaseStatusChangedData(case_id=case_id, police_reference=police_reference, status=status, version=version, links=CaseLinks(case=case_url))
    return webhook_payload(CaseStatusChangedToPolice(timestamp=now, data=data))


def notify_status_changed(
    session: Session, *, case_id: uuid.UUID, force: str, police_reference: str, status: CaseStatus, version: int
) -> None:
    """Add a notification to the caller's transaction (the case's status change), if the force
    has an active callback and the status is one it acts on (NOTIFIED_STATUSES). The worker
    wakes when that transaction commits; nothing is sent if it rolls back."""
    if status not in NOTIFIED_STATUSES:
        return
    payload = status_changed_payload(case_id=case_id, police_reference=police_reference, status=status, version=version, now=utcnow())
    notify_recipient(session, recipient=force, event_type=CASE_STATUS_CHANGED, payload=payload, case_id=case_id)


def notify_recipient(session: Session, *, recipient: str, event_type: str, payload: dict[str, Any], case_id: uuid.UUID) -> None:
    """Add a message for ``recipient`` (a force, a court's or a YJU's system) to the caller's
    transaction, if it has an active callback; a recipient without one reads the API instead."""
    # A statement on the connection, not session.get: that would flush the caller's pending
    # changes to the case first, and the case would be written twice in one transaction.
    if not session.connection().execute(_ACTIVE_CALLBACK, {"recipient": recipient}).first():
        return
    webhooks.add_delivery(session, CallbackDelivery, event_type=event_type, payload=payload, case_id=case_id, recipient=recipient)


_ACTIVE_CALLBACK = select(CallbackEndpoint.recipient).where(CallbackEndpoint.recipient == bindparam("recipient"), CallbackEndpoint.active)  # type: ignore[arg-type]


# --- the administrator's callbacks ------------------------------------------------


def callback_to_public(callback: CallbackEndpoint) -> CallbackPublic:
    return CallbackPublic(
        recipient=callback.recipient, url=callback.url, active=callback.active,
        created_at=as_utc(callback.created_at), updated_at=as_utc(callback.updated_at),
    )


def set_callback(session: Session, recipient: str, request: PoliceCallbackSet) -> tuple[CallbackPublic, str | None]:
    """Create or change a recipient's callback. On creation, returns its first signing secret, shown this once."""
    _must_be_in_use(session, recipient)
    now = utcnow()
    callback = session.get(CallbackEndpoint, recipient, with_for_update=True)
    if callback is not None:
        callback.url, callback.active, callback.updated_at = str(request.url), request.active, now
        session.add(callback)
        session.commit()
        return callback_to_public(callback), None
    try:
        callback = CallbackEndpoint(recipient=recipient, url=str(request.url), active=request.active, created_at=now, updated_at=now)
        session.add(callback)
        session.flush()
        secret = issue_secret(session, CallbackSecret, recipient).secret
        answering(201)  # registered: the call's audit record, written with it, says so
        session.commit()
    except IntegrityError:
        # Another administrator created it at the same moment: theirs stands, and this is a change.
        session.rollback()
        return set_callback(session, recipient, request)
    return callback_to_public(callback), secret


def _must_be_in_use(session: Session, recipient: str) -> None:
    """A callback is registered for a force or a court of the reference data, in use."""
    kind = recipient_kind(recipient)
    code = recipient if kind is RecipientKind.police else recipient.partition(":")[2]
    table, name = (Court, "court") if kind is RecipientKind.court else (Force, "force")
    if code not in in_use_codes(session, table):
        raise NotFound(f"no {name} in use by that code (GET /v1/reference/{name}s)")


def _get_callback(session: Session, recipient: str) -> CallbackEndpoint:
    callback = session.get(CallbackEndpoint, recipient)
    if callback is None:
        raise NotFound("no callback is registered for this recipient")
    return callback


def get_callback(session: Session, recipient: str) -> CallbackPublic:
    return callback_to_public(_get_callback(session, recipient))


def list_callbacks(session: Session, kind: RecipientKind) -> list[CallbackPublic]:
    callbacks = session.scalars(select(CallbackEndpoint).order_by(CallbackEndpoint.recipient))  # type: ignore[arg-type]
    return [callback_to_public(c) for c in callbacks if recipient_kind(c.recipient) is kind]


def rotate_secret(session: Session, recipient: str, overlap: timedelta) -> tuple[str, datetime]:
    """A new signing secret; the old ones stay valid until the returned time."""
    _get_callback(session, recipient)
    secret = issue_secret(session, CallbackSecret, recipient, overlap=overlap).secret
    session.commit()
    return secret, utcnow() + overlap


# --- the deliveries, for the administrator -------------------------------------------


def to_public(delivery: CallbackDelivery) -> CallbackDeliveryPublic:
    return webhooks.to_public(delivery, CallbackDeliveryPublic)


def list_deliveries(
    session: Session, *, status: DeliveryStatus | None, recipient: str | None, cursor: str | None, limit: int
) -> CallbackDeliveryPage:
    page = webhooks.page_of_deliveries(
        session, CallbackDelivery, status=status.value if status else None, endpoint_id=recipient,
        cursor=cursor, limit=limit,
    )
    return CallbackDeliveryPage(items=[to_public(d) for d in page.rows], next_cursor=page.next_cursor)


def delivery_detail(session: Session, delivery_id: str) -> CallbackDeliveryDetail:
    delivery = webhooks.get_delivery(session, CallbackDelivery, delivery_id)
    return CallbackDeliveryDetail(
        **to_public(delivery).model_dump(), attempts_log=webhooks.attempts_log(session, CALLBACK_DELIVERIES.attempt, delivery.id)
    )


def redeliver_by_id(session: Session, delivery_id: str) -> CallbackDeliveryPublic:
    """Send a dead (or delivered) notification again, under the same webhook-id.

    Its content is as it was: the version in it tells the police system whether it is news.
    A delivered one's content was erased (its digest kept) and is not rebuilt: a 409; the
    police system reads the case, always current, with its own key.
    """
    delivery = webhooks.get_delivery(session, CallbackDelivery, delivery_id)
    webhooks.must_be_redeliverable(delivery)
    callback = session.get(CallbackEndpoint, delivery.recipient)
    if callback is None or not callback.active:
        raise Conflict("the recipient's callback is not active")
    must_go_where_it_went(delivery, callback.url)  # a changed URL gets no old notifications: 409
    webhooks.redeliver(session, delivery)
    session.commit()
    return to_public(delivery)
