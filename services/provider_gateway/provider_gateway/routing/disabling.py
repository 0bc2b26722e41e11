"""Disabling a provider takes from it the cases still waiting for its answer.

Called in the transaction that disables it, under the routing lock, so no case is
routed to it meanwhile and none is left with it. Each such case goes to the next
eligible provider (or is unroutable), its undelivered referral is cancelled, and a
provider that already had the referral is told it was withdrawn from it. The cases
it took on (accepted, or began work with the person) stay with it: the person is in its
care, and moving them is a person's decision. It is sent no one's details from now on.
"""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlmodel import Session

from diversion_common.contracts import NOT_YET_TAKEN_ON
from provider_gateway.cases.tables import GatewayCase, GatewayCaseStatus
from provider_gateway.deliveries.service import cancel_open_deliveries, cancel_undelivered_referrals, tell_provider_of_withdrawal
from provider_gateway.providers.tables import Provider
from provider_gateway.routing.service import hold_routing_lock, route_case

# The reason a disabled provider's withdrawal notices give.
PROVIDER_DISABLED = "provider_disabled"


def take_cases_from_disabled(session: Session, provider: Provider) -> int:
    """Re-route the provider's unanswered cases; the caller has set it inactive and commits."""
    assert not provider.active
    hold_routing_lock(session)
    session.flush()  # routing must see it inactive
    waiting = session.scalars(
        select(GatewayCase)
        .where(
            GatewayCase.provider_id == provider.id,  # type: ignore[arg-type]
            GatewayCase.status == GatewayCaseStatus.routed.value,  # type: ignore[arg-type]
            # Still waiting for its answer in referral_api's view too: work with the person (a call, a
            # booking) takes a case on as referral.accepted does, and the gateway's routing status
            # moves only on referral.accepted.
            or_(GatewayCase.case_status.is_(None), GatewayCase.case_status.in_([s.value for s in NOT_YET_TAKEN_ON])),  # type: ignore[union-attr]
        )
        .order_by(GatewayCase.created_at)  # type: ignore[arg-type]
        .with_for_update()
    )
    cases = list(waiting)
    for case in cases:
        cancel_open_deliveries(session, case.case_id)
        tell_provider_of_withdrawal(session, case.case_id, provider.id, provider.delivery_mode == "pull", PROVIDER_DISABLED)
        route_case(session, case, cause="its provider was disabled")
    cancel_undelivered_referrals(session, provider.id)
    return len(cases)
