"""Building each party's view of a breach request from the case and its fold.

``facts`` are the case's facts recorded since the request was submitted (none before): what
was reported after the officer sent it.
"""

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
from referral_api.lifecycle.enforcement import review_overdue
from referral_api.lifecycle.facts import PROVIDER_KINDS, Fact, fact_evidence
from referral_api.lifecycle.fold import BreachRequestState


def _evidence(items: Sequence[Mapping[str, Any]]) -> list[Evidence]:
    fields = Evidence.model_fields
    return [Evidence(**{k: v for k, v in item.items() if k in fields}) for item in items]


def _reported_after_submission(request: BreachRequestState, facts: Sequence[Fact]) -> list[Evidence]:
    if request.submitted_at is None:
        return []
    late = [f for f in facts if f.kind in PROVIDER_KINDS and f.recorded_at > request.submitted_at]
    return _evidence([fact_evidence(f) for f in sorted(late, key=lambda f: (f.occurred_at, f.seq))])


def _common(case: Case, request: BreachRequestState, facts: Sequence[Fact]) -> dict[str, Any]:
    return {
        "id": request.id,
        "status": request.status,
        "version": request.steps,
        "rule": request.rule,
        "evidence": _evidence(request.evidence),
        "attendance": _evidence(request.attendance),
        "warnings": [Warning(**w) for w in request.warnings],
        "deadlines": Deadlines(**{k: v for k, v in request.deadlines.items() if k in Deadlines.model_fields}),
        "acknowledged_at": request.acknowledged_at,
        "outcome": Outcome(outcome=request.outcome, note=request.outcome_note, recorded_at=request.outcome_at)
        if request.outcome and request.outcome_at else None,
        "withdrawal": Withdrawal(reason=request.withdrawal_reason, at=request.withdrawn_at)  # type: ignore[arg-type]
        if request.withdrawal_reason and request.withdrawn_at else None,
        "reported_after_submission": _reported_after_submission(request, facts),
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
