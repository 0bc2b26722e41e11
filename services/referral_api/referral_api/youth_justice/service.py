"""The Youth Justice Unit decides on young people with a previous diversion."""

from __future__ import annotations

import uuid

from sqlalchemy import and_, false, select
from sqlmodel import Session

from diversion_common.credentials import Principal
from diversion_common.messaging import enqueue
from diversion_common.problems import NotFound
from diversion_common.contracts import CaseStatus, Pathway
from diversion_common.database import as_utc, utcnow
from referral_api.case_events import recording
from referral_api.case_log import service as case_log
from referral_api.cases import service as cases
from referral_api.cases.outgoing import routing_requested
from referral_api.errors import CaseStatusConflict
from referral_api.lifecycle.facts import FactKind
from referral_api.cases.tables import Case
from referral_api.youth_justice.schemas import DecisionRequest, YjuCaseDetail, YjuCasePage, YjuDecision


def _sent_to_yju(principal: Principal):
    # Only young people with a previous diversion go to the YJU; nothing about adults; and a
    # unit sees only its own force's area. A yju key issued before units had an area has no
    # force: it sees nothing until it is reissued with --force.
    return and_(
        Case.pathway == Pathway.youth_community_resolution.value,
        Case.previous_diversions > 0,
        Case.force == principal.force if principal.force is not None else false(),
    )


def _yju_case(session: Session, principal: Principal, case_id: uuid.UUID, *, for_update: bool = False) -> Case:
    query = select(Case).where(Case.id == case_id, _sent_to_yju(principal))
    case = session.scalars(query.with_for_update() if for_update else query).first()
    if case is None:
        raise NotFound("no such referral for the Youth Justice Unit")
    return case


def _detail(session: Session, case: Case) -> YjuCaseDetail:
    full = cases.to_detail(session, case)
    referral = case.referral or {}  # empty once an ended case's personal data has been erased
    subject = referral.get("subject")
    return YjuCaseDetail(
        id=case.id,
        police_reference=case.police_reference,
        force=case.force,
        district=case.district,
        pathway=Pathway(case.pathway),
        status=CaseStatus(case.status),
        version=full.version,
        created_at=full.created_at,
        updated_at=full.updated_at,
        history=full.history,
        previous_diversions=case.previous_diversions,
        encounter_at=as_utc(case.encounter_at),
        age_at_encounter=case.age_at_encounter,
        drugs=referral.get("drugs"),
        checks=referral.get("checks"),
        young_person=(
            {key: subject[key] for key in ("given_name", "family_name", "date_of_birth", "address")} if subject else None
        ),
        guardian=referral.get("guardian"),
    )


def list_cases(
    session: Session, principal: Principal, *, status: CaseStatus | None, cursor: str | None, limit: int, request_id: str | None
) -> YjuCasePage:
    query = select(Case).where(_sent_to_yju(principal))
    if status is not None:
        query = query.where(Case.status == status.value)
    page = cases.keyset_page_of_cases(session, query, cursor, limit)
    cases.record_access(session, principal, [c.id for c in page.rows], "yju-list", request_id)
    session.commit()
    return YjuCasePage(items=[cases.to_public(c) for c in page.rows], next_cursor=page.next_cursor)


def read_case(session: Session, principal: Principal, case_id: uuid.UUID, request_id: str | None) -> YjuCaseDetail:
    case = _yju_case(session, principal, case_id)
    cases.record_access(session, principal, [case.id], "yju-read", request_id)
    detail = _detail(session, case)
    session.commit()
    return detail


def decide(
    session: Session, principal: Principal, case_id: uuid.UUID, request: DecisionRequest, request_id: str | None
) -> YjuCaseDetail:
    case = _yju_case(session, principal, case_id, for_update=True)
    if case.status != CaseStatus.awaiting_yju_decision.value:
        raise CaseStatusConflict(f"a case in status {case.status} is not waiting for a decision", case_status=case.status)
    recording.record(
        session,
        case,
        kind=FactKind.yju_decided,
        occurred_at=utcnow(),
        source=case_log.yju_source(principal.client_id),
        # Ours, not the client's X-Request-ID: a source id is unique across every case.
        source_id=str(uuid.uuid4()),
        data={"decision": request.decision.value, "note": request.note, "request_id": request_id},
        actor=principal.client_id,
    )
    if request.decision is YjuDecision.divert:
        enqueue(session, routing_requested(case))
    detail = _detail(session, case)
    session.commit()
    return detail
