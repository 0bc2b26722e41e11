"""Subject access at the gateway: its copy of the cases referral_api's export found for a person.

The gateway holds no name to search by once a case has ended, and searching providers'
copies by name would only repeat referral_api's search; so the administrator passes the
case ids referral_api's export returned.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from diversion_common.audit.context import touched
from diversion_common.database import as_utc, utcnow
from provider_gateway.cases.tables import GatewayCase
from provider_gateway.deliveries.tables import Delivery
from provider_gateway.events.tables import ProviderEventReceipt
from provider_gateway.messaging.tables import OutboxMessage
from provider_gateway.privacy.schemas import (
    GatewaySubjectAccessExport,
    HeldDecision,
    HeldDelivery,
    HeldEvent,
    HeldGatewayCase,
    HeldMessage,
    SubjectAccessRequest,
)
from provider_gateway.routing.tables import RoutingDecision


def _columns(row: Any, model: type) -> dict[str, Any]:
    """The row's columns the model names; SQLite's naive datetimes as the UTC they are."""
    values = {name: getattr(row, name) for name in model.model_fields if hasattr(row, name)}
    return {key: as_utc(value) if isinstance(value, datetime) else value for key, value in values.items()}


def _held(session: Session, case: GatewayCase) -> HeldGatewayCase:
    case_id = case.case_id
    decisions = session.scalars(select(RoutingDecision).where(RoutingDecision.case_id == case_id).order_by(RoutingDecision.id))  # type: ignore[arg-type]
    deliveries = session.scalars(select(Delivery).where(Delivery.case_id == case_id).order_by(Delivery.created_at))  # type: ignore[arg-type]
    events = session.scalars(
        select(ProviderEventReceipt).where(ProviderEventReceipt.case_id == case_id).order_by(ProviderEventReceipt.received_at)  # type: ignore[arg-type]
    )
    messages = session.scalars(select(OutboxMessage).where(OutboxMessage.aggregate_id == case_id).order_by(OutboxMessage.created_at))  # type: ignore[arg-type]
    return HeldGatewayCase(
        **_columns(case, HeldGatewayCase),
        decisions=[HeldDecision(**_columns(d, HeldDecision)) for d in decisions],
        deliveries=[HeldDelivery(**_columns(d, HeldDelivery)) for d in deliveries],
        events=[HeldEvent(**_columns(e, HeldEvent)) for e in events],
        messages=[HeldMessage(**_columns(m, HeldMessage)) for m in messages],
    )


def export(session: Session, request: SubjectAccessRequest) -> GatewaySubjectAccessExport:
    wanted = list(dict.fromkeys(request.case_ids))
    cases = {c.case_id: c for c in session.scalars(select(GatewayCase).where(GatewayCase.case_id.in_(wanted)))}  # type: ignore[attr-defined]
    touched(cases)
    return GatewaySubjectAccessExport(
        exported_at=utcnow(),
        cases=[_held(session, cases[case_id]) for case_id in wanted if case_id in cases],
        not_held=[case_id for case_id in wanted if case_id not in cases],
    )
