"""What the gateway does with each message from referral_api."""

from __future__ import annotations

from sqlalchemy import bindparam, select
from sqlmodel import Session

from diversion_common.contracts import CaseNotice, CaseStatusChanged, DistrictChanged, ProviderReferral, Topic
from diversion_common.messaging import MessageEnvelope, TopicHandler
from provider_gateway.cases.mirror import mirror
from provider_gateway.cases.tables import GatewayCase, GatewayCaseStatus
from provider_gateway.deliveries.service import tell_provider_of_notice
from provider_gateway.reference import service as reference
from provider_gateway.routing.service import route_case

_CASE_HELD = select(GatewayCase.case_id).where(GatewayCase.case_id == bindparam("case_id"))  # type: ignore[arg-type]


def _routing_requested(session: Session, message: ProviderReferral, _envelope: MessageEnvelope) -> None:
    if session.connection().execute(_CASE_HELD, {"case_id": message.case_id}).first() is not None:
        return  # already held: the same case sent under a new message id changes nothing
    case = GatewayCase(
        case_id=message.case_id,
        pathway=message.pathway.value,
        district=message.district,
        out_of_hours_wanted=message.out_of_hours_appointments,
        status=GatewayCaseStatus.unroutable.value,
        provider_payload=message.model_dump(mode="json", by_alias=True),
    )
    route_case(session, case)  # which adds it: written once, as routed, not inserted and then updated


def _status_changed(session: Session, message: CaseStatusChanged, _envelope: MessageEnvelope) -> None:
    case = session.get(GatewayCase, message.case_id, with_for_update=True)
    if case is not None:  # else a case never sent here: nothing to mirror
        mirror(session, case, status=message.status, version=message.version, programme=message.programme, reason=message.reason)


def _notice(session: Session, message: CaseNotice, _envelope: MessageEnvelope) -> None:
    case = session.get(GatewayCase, message.case_id)
    if case is not None:
        tell_provider_of_notice(session, case, message)


def _district_changed(session: Session, message: DistrictChanged, _envelope: MessageEnvelope) -> None:
    reference.take(session, message)


HANDLERS = {
    Topic.routing_requested.value: TopicHandler(ProviderReferral, _routing_requested),
    Topic.status_changed.value: TopicHandler(CaseStatusChanged, _status_changed),
    Topic.notice.value: TopicHandler(CaseNotice, _notice),
    Topic.district_changed.value: TopicHandler(DistrictChanged, _district_changed),
}
