"""The gateway's mirror of referral_api's view of a case: newest version wins.

It is fed by ``case.status_changed`` messages and by referral_api's answer to each
provider event, whichever arrives first; an older view never overwrites a newer one.
When the case has ended, its routing ends too.
"""

from __future__ import annotations

from sqlmodel import Session

from diversion_common.contracts import TERMINAL_STATUSES, CaseStatus, ProgrammeSummary
from diversion_common.database import utcnow
from provider_gateway.cases.tables import GatewayCase, GatewayCaseStatus
from provider_gateway.deliveries.service import cancel_open_deliveries, tell_provider_of_withdrawal
from provider_gateway.privacy.erasure import erase_case_copy
from provider_gateway.providers.tables import Provider


def mirror(
    session: Session,
    case: GatewayCase,
    *,
    status: CaseStatus,
    version: int,
    programme: ProgrammeSummary | None,
    reason: str | None = None,
) -> bool:
    """Take referral_api's view if it is newer than the one held; True when taken."""
    if version <= case.case_version:
        return False
    case.case_status, case.case_version = status.value, version
    case.programme = programme.model_dump(mode="json") if programme else None
    case.updated_at = utcnow()
    if status is CaseStatus.withdrawn and case.status != GatewayCaseStatus.withdrawn.value:
        _withdraw(session, case, reason or "withdrawn")
    elif status in TERMINAL_STATUSES and case.status != GatewayCaseStatus.withdrawn.value:
        case.status = GatewayCaseStatus.ended.value
    if status in TERMINAL_STATUSES:
        erase_case_copy(session, case)  # needed only while the case is open
    session.add(case)
    return True


def _withdraw(session: Session, case: GatewayCase, reason: str) -> None:
    case.status = GatewayCaseStatus.withdrawn.value
    cancel_open_deliveries(session, case.case_id)
    provider = session.get(Provider, case.provider_id) if case.provider_id else None
    if provider is not None:
        tell_provider_of_withdrawal(session, case.case_id, provider.id, provider.delivery_mode == "pull", reason)
