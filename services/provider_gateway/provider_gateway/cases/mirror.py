"""The gateway's mirror of referral_api's view of a case: newest version wins.

It is fed by ``case.status_changed`` messages and by referral_api's answer to each
provider event, whichever arrives first; an older view never overwrites a newer one.
When the case has ended, its routing ends too.
"""

from __future__ import annotations

import uuid

from sqlalchemy import bindparam, update
from sqlalchemy.orm.util import identity_key
from sqlmodel import Session

from diversion_common.contracts import TERMINAL_STATUSES, CaseProjection, CaseStatus, ProgrammeSummary
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


def take_view(session: Session, view: CaseProjection) -> None:
    """referral_api's answer about a case, mirrored: an open case's by one conditional UPDATE (most
    answers: no load of the row, whose JSON holds the person's details); an ended one's through
    ``mirror``, which ends its routing too."""
    if view.status not in TERMINAL_STATUSES:
        mirror_open_view(session, view.case_id, status=view.status, version=view.version, programme=view.programme)
        return
    case = session.get(GatewayCase, view.case_id, with_for_update=True)
    if case is not None:
        mirror(session, case, status=view.status, version=view.version, programme=view.programme)


def mirror_open_view(session: Session, case_id: uuid.UUID, *, status: CaseStatus, version: int, programme: ProgrammeSummary | None) -> None:
    """``mirror`` for a case still open: the same rule (newest version wins) as one conditional
    UPDATE, with no load of the row."""
    assert status not in TERMINAL_STATUSES  # an ended case's view does more: ``mirror``
    # The UPDATE goes past the session's unit of work: a change to this case still pending in it (an
    # earlier answer in the same relay transaction) is written first, so the version guard sees it and
    # the change cannot land afterwards over a newer view; a copy already loaded is read afresh.
    session.flush()
    session.connection().execute(_TAKE_OPEN_VIEW, {
        "case": case_id, "new_status": status.value, "new_version": version,
        "new_programme": programme.model_dump(mode="json") if programme else None, "now": utcnow(),
    })
    loaded = session.identity_map.get(identity_key(GatewayCase, case_id))
    if loaded is not None:
        session.expire(loaded)


_CASES = GatewayCase.__table__.c  # type: ignore[attr-defined]
_TAKE_OPEN_VIEW = (
    update(GatewayCase.__table__)  # type: ignore[attr-defined]
    .where(_CASES.case_id == bindparam("case"), _CASES.case_version < bindparam("new_version"))
    .values({_CASES.case_status: bindparam("new_status"), _CASES.case_version: bindparam("new_version"),
             _CASES.programme: bindparam("new_programme", type_=_CASES.programme.type), _CASES.updated_at: bindparam("now")})
)


def _withdraw(session: Session, case: GatewayCase, reason: str) -> None:
    case.status = GatewayCaseStatus.withdrawn.value
    cancel_open_deliveries(session, case.case_id)
    provider = session.get(Provider, case.provider_id) if case.provider_id else None
    if provider is not None:
        tell_provider_of_withdrawal(session, case.case_id, provider.id, provider.delivery_mode == "pull", reason)
