"""What the officer, the court and the YJU can do with breach requests. Each public function is one transaction.

Who sees what: the referring force sees its requests from the moment they are raised;
the court (adults, its own court only) and the YJU (young people, its own force only)
see a request once the officer has submitted it. "Not yours" answers exactly like "no
such request". Every read is recorded against the case it is about.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select
from sqlmodel import Session

from diversion_common import pagination
from diversion_common.credentials import Principal, Role
from diversion_common.database import as_utc, utcnow
from diversion_common.problems import FieldError, NotFound, ValidationFailed
from referral_api.breaches.schemas import (
    CourtBreachRequestPage,
    HearingRequest,
    OutcomeRequest,
    PoliceBreachRequestPage,
    WithdrawBreachRequest,
    YjuBreachRequestPage,
)
from referral_api.breaches.tables import BreachRequestRow
from referral_api.breaches.views import view
from referral_api.case_events import recording
from referral_api.case_log import service as case_log
from referral_api.cases.service import record_access
from referral_api.cases.tables import Case
from referral_api.errors import BreachStepConflict
from referral_api.lifecycle.breach_requests import (
    Addressee,
    BreachStatus,
    BreachStep,
    hearing_refusal,
    next_status,
    outcome_allowed,
)
from referral_api.lifecycle.facts import FactKind, court_source, police_source, yju_source
from referral_api.lifecycle.fold import BreachRequestState

BreachView = BaseModel  # the caller's own view of the request, by role and phase (views.BREACH_REQUEST_VIEWS)


# --- who may see which request ---------------------------------------------------------


def _visible(query: Any, principal: Principal) -> Any:
    if principal.role is Role.police:
        return query.where(BreachRequestRow.force == principal.force)
    submitted = BreachRequestRow.submitted_at.is_not(None)  # type: ignore[union-attr]
    if principal.role is Role.court:
        return query.where(BreachRequestRow.addressee == Addressee.court.value, BreachRequestRow.court == principal.court, submitted)
    return query.where(BreachRequestRow.addressee == Addressee.yju.value, BreachRequestRow.force == principal.force, submitted)


def _row(session: Session, principal: Principal, request_id: uuid.UUID) -> BreachRequestRow:
    row = session.scalars(_visible(select(BreachRequestRow).where(BreachRequestRow.id == request_id), principal)).first()
    if row is None:
        raise NotFound("no such breach request")
    return row


def _view(session: Session, principal: Principal, case: Case, request_id: uuid.UUID) -> BreachView:
    request = case_log.current_state(session, case.id).breach_request(request_id)
    assert request is not None, "a breach request's row without its facts"
    return _view_of(session, principal, case, request)


def _view_of(session: Session, principal: Principal, case: Case, request: BreachRequestState) -> BreachView:
    # Only what was recorded since the officer sent it: never the whole log.
    return view(principal.role, case, request, case_log.facts_since_submission(session, case.id, request), utcnow())


def _views(session: Session, principal: Principal, rows: list[BreachRequestRow]) -> list[BreachView]:
    """``_view`` of each row of a page, the page's cases, states and late facts each read in one statement."""
    case_ids = list(dict.fromkeys(row.case_id for row in rows))
    cases = {case.id: case for case in session.scalars(select(Case).where(Case.id.in_(case_ids)))}  # type: ignore[attr-defined]
    states = case_log.current_states(session, case_ids)
    requests = []
    for row in rows:
        request = states[row.case_id].breach_request(row.id)
        assert request is not None, "a breach request's row without its facts"
        requests.append((row, request))
    late = case_log.facts_since_submissions(
        session, {(row.case_id, request.submitted_at) for row, request in requests if request.submitted_at is not None}
    )
    now = utcnow()
    return [
        view(principal.role, cases[row.case_id], request,
             late.get((row.case_id, request.submitted_at), []) if request.submitted_at is not None else [], now)
        for row, request in requests
    ]


# --- reading ----------------------------------------------------------------------------


def list_requests(
    session: Session, principal: Principal, *, status: BreachStatus | None, received_from: datetime | None,
    received_to: datetime | None, cursor: str | None, limit: int, request_id: str | None, court: str | None = None,
) -> PoliceBreachRequestPage | CourtBreachRequestPage | YjuBreachRequestPage:
    query = _visible(select(BreachRequestRow), principal)
    if status is not None:
        query = query.where(BreachRequestRow.status == status.value)
    if court is not None:
        query = query.where(BreachRequestRow.court == court)
    if received_from is not None:
        query = query.where(BreachRequestRow.submitted_at >= received_from)  # type: ignore[operator]
    if received_to is not None:
        query = query.where(BreachRequestRow.submitted_at < received_to)  # type: ignore[operator]
    # The police follow requests from their raising; the court and the YJU from their receipt.
    at = BreachRequestRow.raised_at if principal.role is Role.police else BreachRequestRow.submitted_at
    page = pagination.keyset_page(
        session, query, at=at, key=BreachRequestRow.id, cursor=cursor, limit=limit,  # type: ignore[arg-type]
        key_from_text=pagination.uuid_key, key_to_text=pagination.uuid_text,
    )
    items = _views(session, principal, page.rows)
    record_access(session, principal, [row.case_id for row in page.rows], "breach_request.list", request_id)
    session.commit()
    return _PAGES[principal.role](items=items, next_cursor=page.next_cursor)


_PAGES: dict[Role, type[PoliceBreachRequestPage | CourtBreachRequestPage | YjuBreachRequestPage]] = {
    Role.police: PoliceBreachRequestPage, Role.court: CourtBreachRequestPage, Role.yju: YjuBreachRequestPage,
}


def read_request(session: Session, principal: Principal, request_id: uuid.UUID, audit_id: str | None) -> BreachView:
    row = _row(session, principal, request_id)
    case = session.get(Case, row.case_id)
    assert case is not None
    record_access(session, principal, [case.id], "breach_request.read", audit_id)
    view = _view(session, principal, case, request_id)
    session.commit()
    return view


# --- the steps -----------------------------------------------------------------------------


_SOURCE = {Role.police: police_source, Role.court: court_source, Role.yju: yju_source}
_KIND = {
    BreachStep.confirm: FactKind.breach_submitted,
    BreachStep.withdraw: FactKind.breach_withdrawn,
    BreachStep.acknowledge: FactKind.breach_acknowledged,
    BreachStep.schedule_hearing: FactKind.breach_hearing_scheduled,
    BreachStep.record_outcome: FactKind.breach_outcome_recorded,
}


def _step(
    session: Session, principal: Principal, request_id: uuid.UUID, step: BreachStep, data: dict[str, Any], audit_id: str | None,
    check: Callable[[BreachRequestState], None] | None = None,
) -> BreachView:
    """``check`` may refuse what the step says about this request (a problem), once it may take the step."""
    row = _row(session, principal, request_id)
    case = session.get(Case, row.case_id, with_for_update=True)  # one step at a time per case
    assert case is not None
    state = case_log.current_state(session, case.id)
    request = state.breach_request(request_id)
    assert request is not None
    if next_status(request.addressee, request.status, step) is None:
        raise BreachStepConflict(f"a breach request in status {request.status.value} cannot take the step {step.value}", breach_status=request.status.value)
    if check is not None:
        check(request)
    # Steps keep their order on the log even if this clock is behind the one that raised it.
    occurred_at = max(utcnow(), as_utc(request.updated_at))
    recorded = recording.record(
        session, case, kind=_KIND[step], occurred_at=occurred_at, source=_SOURCE[principal.role](principal.client_id),
        source_id=str(uuid.uuid4()), data={"breach_request_id": str(request_id), **data}, actor=principal.client_id,
    )
    after = recorded.state.breach_request(request_id)
    assert after is not None
    record_access(session, principal, [case.id], f"breach_request.{step.value}", audit_id)
    view = _view_of(session, principal, case, after)  # the state is folded already
    session.commit()
    return view


def confirm(session: Session, principal: Principal, request_id: uuid.UUID, audit_id: str | None) -> BreachView:
    return _step(session, principal, request_id, BreachStep.confirm, {}, audit_id)


def withdraw(session: Session, principal: Principal, request_id: uuid.UUID, body: WithdrawBreachRequest, audit_id: str | None) -> BreachView:
    return _step(session, principal, request_id, BreachStep.withdraw, {"reason": body.reason.value, "note": body.note}, audit_id)


def acknowledge(session: Session, principal: Principal, request_id: uuid.UUID, audit_id: str | None) -> BreachView:
    return _step(session, principal, request_id, BreachStep.acknowledge, {}, audit_id)


def schedule_hearing(session: Session, principal: Principal, request_id: uuid.UUID, body: HearingRequest, audit_id: str | None) -> BreachView:
    def after_submission(request: BreachRequestState) -> None:
        assert request.submitted_at is not None  # a request is acknowledged, so submitted, before a hearing
        refusal = hearing_refusal(as_utc(request.submitted_at), body.hearing_at)
        if refusal is not None:
            raise ValidationFailed("the hearing's date is not possible", errors=[FieldError(pointer="/hearing_at", detail=refusal)])

    return _step(
        session, principal, request_id, BreachStep.schedule_hearing,
        {"hearing_at": body.hearing_at.isoformat(), "court_room": body.court_room}, audit_id, check=after_submission,
    )


def record_outcome(session: Session, principal: Principal, request_id: uuid.UUID, body: OutcomeRequest, audit_id: str | None) -> BreachView:
    addressee = Addressee.court if principal.role is Role.court else Addressee.yju
    if not outcome_allowed(addressee, body.outcome.value):
        raise ValidationFailed("this outcome is not one this body records", errors=[FieldError(pointer="/outcome", detail=f"{body.outcome.value} is not a {addressee.value} outcome")])
    return _step(session, principal, request_id, BreachStep.record_outcome, {"outcome": body.outcome.value, "note": body.note}, audit_id)
