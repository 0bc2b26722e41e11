"""The gateway's copy of a person's details lives only as long as the case is open.

Routing and the provider need the referral while the case is routed or accepted. Once
it has ended (withdrawn, completed, closed, declined) the gateway erases its copy: the
referral it holds, and what its settled deliveries about the case still carry (each
keeps its digest). What stays is content-free: ids, dates, statuses, pathway, district.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session

from diversion_common.database import utcnow
from diversion_common.webhooks.service import erase_settled_payloads
from provider_gateway.cases.tables import GatewayCase
from provider_gateway.deliveries.service import REFERRAL_CREATED
from provider_gateway.deliveries.tables import Delivery, DeliveryStatus

# Deliveries still to be sent or fetched keep their payload until then: a withdrawal notice
# carries no one's details, and a referral is never left open on an ended case.
STILL_OPEN = (DeliveryStatus.pending.value, DeliveryStatus.awaiting_pull.value)


def erase_case_copy(session: Session, case: GatewayCase, now: datetime | None = None) -> int:
    """Erase what the gateway holds about the person in the case, in the caller's transaction.
    Returns how many delivery payloads went with it; a second call changes nothing."""
    now = now or utcnow()
    # A referral not yet delivered or fetched is never to be: the case is over.
    session.execute(
        update(Delivery)
        .where(
            Delivery.case_id == case.case_id,  # type: ignore[arg-type]
            Delivery.event_type == REFERRAL_CREATED,
            Delivery.status.in_(STILL_OPEN),  # type: ignore[attr-defined]
        )
        .values(status=DeliveryStatus.cancelled.value, updated_at=now)
    )
    if case.provider_payload is not None:
        case.provider_payload = None
        case.personal_data_erased_at = now
        session.add(case)
    return erase_settled_payloads(session, Delivery, Delivery.case_id == case.case_id, still_open=STILL_OPEN)
