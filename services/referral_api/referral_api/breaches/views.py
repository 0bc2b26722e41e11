"""Building each party's view of a breach request from the case and its fold."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from diversion_common.database import as_utc
from referral_api.breaches.schemas import (
    CourtBreachRequest,
    Deadlines,
    Evidence,
    Hearing,
    LateFact,
    OffenceSummary,
    OfficerInCase,
    Outcome,
    PersonForCourt,
    PoliceBreachRequest,
    Warning,
    Withdrawal,
    YjuBreachRequest,
)
from referral_api.cases.tables import Case
from referral_api.lifecycle.enforcement import fact_evidence, review_overdue
from referral_api.lifecycle.facts import APPOINTMENT_OUTCOME_KINDS, BREACH_STEP_KINDS, PROVIDER_KINDS, Fact, FactKind
from referral_api.lifecycle.fold import BreachRequestState


def _evidence(items: Sequence[Mapping[str, Any]]) -> list[Evidence]:
    fields = Evidence.model_fields
    return [Evidence(**{k: v for k, v in item.items() if k in fields}) for item in items]


def reported_after_submission(request: BreachRequestState, facts: Sequence[Fact]) -> list[tuple[Fact, bool]]:
    """The providers' facts recorded after the request was submitted and before it was closed, in the
    order they happened, each with whether it corrects the request's evidence (a later report about
    an appointment it cites). By the order of recording, whatever the clocks said."""
    steps = [f for f in facts if f.kind in BREACH_STEP_KINDS and f.data.get("breach_request_id") == str(request.id)]
    submitted = next((f.seq for f in steps if f.kind is FactKind.breach_submitted), None)
    if submitted is None:
        return []
    closed = min((f.seq for f in steps if f.kind in _CLOSING and f.seq > submitted), default=None)
    cited = {str(e["appointment_id"]) for e in request.evidence if e.get("appointment_id")}
    late = [f for f in facts if f.kind in PROVIDER_KINDS and f.seq > submitted and (closed is None or f.seq < closed)]
    return [
        (f, f.kind in APPOINTMENT_OUTCOME_KINDS and str(f.data.get("appointment_id")) in cited)
        for f in sorted(late, key=lambda f: (f.occurred_at, f.seq))
    ]


_CLOSING = frozenset({FactKind.breach_withdrawn, FactKind.breach_outcome_recorded})


def version(request: BreachRequestState, facts: Sequence[Fact]) -> int:
    """Grows with every change a reader of the request can see: each step, and each late fact."""
    return request.steps + len(reported_after_submission(request, facts))


def _late_evidence(request: BreachRequestState, facts: Sequence[Fact]) -> list[LateFact]:
    fields = LateFact.model_fields
    return [
        LateFact(**{k: v for k, v in fact_evidence(fact).items() if k in fields}, corrects_evidence=corrects)
        for fact, corrects in reported_after_submission(request, facts)
    ]


def _common(case: Case, request: BreachRequestState, facts: Sequence[Fact]) -> dict[str, Any]:
    raised = next(f for f in facts if f.kind.value == "breach.raised" and f.data.get("breach_request_id") == str(request.id))
    return {
        "id": request.id,
        "status": request.status,
        "version": version(request, facts),
        "rule": request.rule,
        "evidence": _evidence(request.evidence),
        "attendance": _evidence(raised.data.get("attendance", [])),
        "warnings": [Warning(**w) for w in request.warnings],
        "deadlines": Deadlines(**{k: v for k, v in request.deadlines.items() if k in Deadlines.model_fields}),
        "acknowledged_at": request.acknowledged_at,
        "outcome": Outcome(outcome=request.outcome, note=request.outcome_note, recorded_at=request.outcome_at)
        if request.outcome and request.outcome_at else None,
        "withdrawal": Withdrawal(reason=request.withdrawal_reason, at=request.withdrawn_at)  # type: ignore[arg-type]
        if request.withdrawal_reason and request.withdrawn_at else None,
        "reported_after_submission": _late_evidence(request, facts),
    }


def _hearing(request: BreachRequestState) -> Hearing | None:
    return Hearing(at=request.hearing_at, court_room=request.court_room) if request.hearing_at else None


def _person(referral: Mapping[str, Any] | None) -> PersonForCourt | None:
    if referral is None:
        return None
    subject, address = referral["subject"], referral["subject"]["address"]
    return PersonForCourt(
        given_name=subject["given_name"], family_name=subject["family_name"], date_of_birth=subject["date_of_birth"],
        address_line1=address["line1"], address_line2=address.get("line2"), town=address["town"], postcode=address["postcode"],
    )


def _offence(case: Case) -> OffenceSummary:
    drugs = case.referral["drugs"] if case.referral else []
    return OffenceSummary(
        encounter_at=as_utc(case.encounter_at), district=case.district, police_reference=case.police_reference,
        drugs=[f"{d['name']} (class {d['class']})" for d in drugs],
    )


def _officer(case: Case) -> OfficerInCase | None:
    if case.referral is None:
        return None
    officer = case.referral["officer"]
    return OfficerInCase(force=case.force, collar_number=officer["collar_number"], name=officer["name"])


def _addressee_fields(case: Case, request: BreachRequestState, facts: Sequence[Fact]) -> dict[str, Any]:
    assert request.submitted_at is not None, "the court and the YJU see submitted requests only"
    return {
        **_common(case, request, facts),
        "received_at": request.submitted_at,
        "person": _person(case.referral),
        "offence": _offence(case),
        "officer": _officer(case),
    }


def court_view(case: Case, request: BreachRequestState, facts: Sequence[Fact]) -> CourtBreachRequest:
    return CourtBreachRequest(**_addressee_fields(case, request, facts), court=request.court, hearing=_hearing(request))


def yju_view(case: Case, request: BreachRequestState, facts: Sequence[Fact]) -> YjuBreachRequest:
    return YjuBreachRequest(**_addressee_fields(case, request, facts), force=case.force)


def police_view(case: Case, request: BreachRequestState, facts: Sequence[Fact], now: datetime) -> PoliceBreachRequest:
    return PoliceBreachRequest(
        **_common(case, request, facts),
        case_id=case.id, police_reference=case.police_reference, addressee=request.addressee, court=request.court,
        raised_at=request.raised_at, review_due_at=request.review_due_at, review_overdue=review_overdue(request, now),
        submitted_at=request.submitted_at, hearing=_hearing(request), withdrawal_note=request.withdrawal_note,
    )
