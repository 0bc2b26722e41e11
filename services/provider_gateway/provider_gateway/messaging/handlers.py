"""What the gateway does with each message from referral_api."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlmodel import Session

from diversion_common.database import utcnow
from diversion_common.messaging import TopicHandler
from diversion_common.reference import DistrictCode
from provider_gateway.cases.tables import GatewayCase, GatewayCaseStatus
from provider_gateway.deliveries.service import cancel_open_deliveries, tell_provider_of_withdrawal
from provider_gateway.providers.tables import Provider
from provider_gateway.routing.service import route_case


class RoutingRequested(BaseModel):
    """The provider's view of a case; extra fields are kept for the provider."""

    model_config = ConfigDict(extra="allow")

    case_id: uuid.UUID
    pathway: str
    district: DistrictCode
    encounter_date: date
    out_of_hours_appointments: bool
    subject: dict[str, Any]


class Withdrawn(BaseModel):
    case_id: uuid.UUID
    reason: str


def _routing_requested(session: Session, message: RoutingRequested) -> None:
    if session.get(GatewayCase, message.case_id) is not None:
        return  # already held: the same case sent under a new message id changes nothing
    case = GatewayCase(
        case_id=message.case_id,
        pathway=message.pathway,
        district=message.district.value,
        out_of_hours_wanted=message.out_of_hours_appointments,
        status=GatewayCaseStatus.unroutable.value,
        provider_payload=message.model_dump(mode="json"),
    )
    session.add(case)
    route_case(session, case)


def _withdrawn(session: Session, message: Withdrawn) -> None:
    case = session.get(GatewayCase, message.case_id, with_for_update=True)
    if case is None:
        return
    case.status = GatewayCaseStatus.withdrawn.value
    case.updated_at = utcnow()
    session.add(case)
    cancel_open_deliveries(session, case.case_id)
    provider = session.get(Provider, case.provider_id) if case.provider_id else None
    if provider is not None:
        tell_provider_of_withdrawal(session, case.case_id, provider.id, provider.delivery_mode == "pull", message.reason)


HANDLERS = {
    "case.routing_requested": TopicHandler(RoutingRequested, _routing_requested),
    "case.withdrawn": TopicHandler(Withdrawn, _withdrawn),
}
