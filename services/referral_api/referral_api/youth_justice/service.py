"""The Youth Justice Unit decides on young people with a previous diversion."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, false, select
from sqlmodel import Session

from diversion_common.credentials import Principal
from diversion_common.messaging import enqueue
from diversion_common.problems import NotFound
from diversion_common.contracts import TERMINAL_STATUSES, CaseStatus, Pathway
from diversion_common.database import as_utc, utcnow
from referral_api.case_events import recording
from referral_api.case_log import service as case_log
from referral_api.cases import service as cases
from referral_api.cases.outgoing import routing_requested
from referral_api.errors import CaseStatusConflict
from referral_api.cases.schemas import CaseDetail
from referral_api.cases.tables import Case
from referral_api.lifecycle.facts import Fact, FactKind
from referral_api.lifecycle.fold import CaseState
from referral_api.visibility import Phase, build
from referral_api.youth_justice.schemas import DecisionRequest, YjuCaseDetail, YjuCasePage, YjuCaseRecord, YjuDecision


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


@dataclass(frozen=True)
class _Seen:
    """What the unit's view of a case is built from."""

    case: Case
    state: CaseState
    decision: Fact | None  # the unit's decision, once made
    police_detail: CaseDetail  # the force's own view: the history with its reasons

    @property
    def referral(self) -> dict[str, Any]:
        return self.case.referral or {}  # empty once an ended case's personal data has been erased


def _young_person(seen: _Seen) -> dict[str, Any] | None:
    subject = seen.referral.get("subject")
    return {key: subject[key] for key in ("given_name", "family_name", "date_of_birth", "address")} if subject else None


def _reason(state: CaseState) -> str | None:
    if state.status is CaseStatus.withdrawn:
        return state.withdrawal_reason
    return state.closure_reason.value if state.status is CaseStatus.closed_by_provider and state.closure_reason else None


# Every field any view of the unit's may have, and the one way it is filled.
FIELD_BUILDERS: dict[str, Callable[[_Seen], Any]] = {
    "id": lambda seen: seen.case.id,
    "police_reference": lambda seen: seen.case.police_reference,
    "force": lambda seen: seen.case.force,
    "district": lambda seen: seen.case.district,
    "pathway": lambda seen: Pathway(seen.case.pathway),
    "status": lambda seen: CaseStatus(seen.case.status),
    "version": lambda seen: seen.police_detail.version,
    "created_at": lambda seen: seen.police_detail.created_at,
    "updated_at": lambda seen: seen.police_detail.updated_at,
    # As dicts: the record's model takes the status, event and date of each, not the notes.
    "history": lambda seen: [entry.model_dump() for entry in seen.police_detail.history],
    "previous_diversions": lambda seen: seen.case.previous_diversions,
    "encounter_at": lambda seen: as_utc(seen.case.encounter_at),
    "age_at_encounter": lambda seen: seen.case.age_at_encounter,
    "drugs": lambda seen: seen.referral.get("drugs"),
    "checks": lambda seen: seen.referral.get("checks"),
    "young_person": _young_person,
    "guardian": lambda seen: seen.referral.get("guardian"),
    "decision": lambda seen: seen.decision.data["decision"] if seen.decision else None,
    "decided_at": lambda seen: seen.decision.occurred_at if seen.decision else None,
    "reason": lambda seen: _reason(seen.state),
}

# Which fields the unit sees of a case, in which phase: the one place it is said.
YJU_CASE_VIEWS: Mapping[Phase, type[YjuCaseDetail | YjuCaseRecord]] = {Phase.open: YjuCaseDetail, Phase.closed: YjuCaseRecord}


def case_phase(status: CaseStatus) -> Phase:
    """Open while the unit may still act on the case (decide it, or hear of its breach); closed once it has ended."""
    return Phase.closed if status in TERMINAL_STATUSES else Phase.open


def _detail(session: Session, case: Case) -> YjuCaseDetail | YjuCaseRecord:
    state = case_log.current_state(session, case.id)
    decision = case_log.first_fact_of_kind(session, case.id, FactKind.yju_decided)
    seen = _Seen(case, state, decision, cases.to_detail(session, case, state))
    return build(YJU_CASE_VIEWS[case_phase(CaseStatus(case.status))], FIELD_BUILDERS, seen)


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


def read_case(session: Session, principal: Principal, case_id: uuid.UUID, request_id: str | None) -> YjuCaseDetail | YjuCaseRecord:
    case = _yju_case(session, principal, case_id)
    cases.record_access(session, principal, [case.id], "yju-read", request_id)
    detail = _detail(session, case)
    session.commit()
    return detail


def decide(
    session: Session, principal: Principal, case_id: uuid.UUID, request: DecisionRequest, request_id: str | None
) -> YjuCaseDetail | YjuCaseRecord:
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
