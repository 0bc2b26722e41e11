"""Building each party's view of a breach request from the case and its fold (see ``referral_api.visibility``).

``facts`` are the case's facts recorded since the request was submitted (``case_log.facts_since``):
what was reported after the officer sent it, never the whole log.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from diversion_common.credentials import Role
from diversion_common.database import as_utc
from referral_api.breaches.schemas import (
    CourtBreachRequest,
    CourtBreachRequestRecord,
    Deadlines,
    Evidence,
    Hearing,
    LateFact,
    OffenceSummary,
    OfficerInCase,
    PersonForCourt,
    PoliceBreachRequest,
    Warning,
    Withdrawal,
    YjuBreachRequest,
    YjuBreachRequestRecord,
)
from referral_api.cases.tables import Case
from referral_api.lifecycle.enforcement import review_overdue
from referral_api.lifecycle.facts import APPOINTMENT_OUTCOME_KINDS, BREACH_STEP_KINDS, PROVIDER_KINDS, Fact, FactKind, fact_evidence
from referral_api.lifecycle.fold import BreachRequestState
from referral_api.visibility import Phase, build


def _evidence(items: Sequence[Mapping[str, Any]]) -> list[Evidence]:
    fields = Evidence.model_fields
    return [Evidence(**{k: v for k, v in item.items() if k in fields}) for item in items]


def reported_after_submission(request: BreachRequestState, facts: Sequence[Fact]) -> list[tuple[Fact, bool]]:
    """The providers' facts recorded after the request was submitted and before it was closed, in the
    order they happened, each with whether it corrects the request's evidence (a later report about
    an appointment it cites). By the order of recording, whatever the clocks said."""
    if request.submitted_at is None:
        return []
    steps = [f for f in facts if f.kind in BREACH_STEP_KINDS and f.data.get("breach_request_id") == str(request.id)]
    # ``facts`` start at the submission (case_log.facts_since_submission), its own fact included when
    # the clocks agree: whatever comes after it.
    submitted = next((f.seq for f in steps if f.kind is FactKind.breach_submitted), 0)
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


@dataclass(frozen=True)
class _Seen:
    """What a view of a request is built from."""

    case: Case
    request: BreachRequestState
    facts: Sequence[Fact]
    now: datetime


def _attendance(seen: _Seen) -> list[Evidence]:
    return _evidence(seen.request.attendance)  # frozen when raised


def _outcome(request: BreachRequestState) -> dict[str, Any] | None:
    # A dict: each party's model takes what it names of it (the record leaves out the note).
    if not (request.outcome and request.outcome_at):
        return None
    return {"outcome": request.outcome, "note": request.outcome_note, "recorded_at": request.outcome_at}


def _withdrawal(request: BreachRequestState) -> Withdrawal | None:
    if not (request.withdrawal_reason and request.withdrawn_at):
        return None
    return Withdrawal(reason=request.withdrawal_reason, at=request.withdrawn_at)  # type: ignore[arg-type]


def _hearing(request: BreachRequestState) -> Hearing | None:
    return Hearing(at=request.hearing_at, court_room=request.court_room) if request.hearing_at else None


def _received_at(request: BreachRequestState) -> datetime:
    assert request.submitted_at is not None, "the court and the YJU see submitted requests only"
    return request.submitted_at


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


# Every field any party's view of a request may have, and the one way it is filled.
FIELD_BUILDERS: dict[str, Callable[[_Seen], Any]] = {
    "id": lambda seen: seen.request.id,
    "case_id": lambda seen: seen.case.id,
    "police_reference": lambda seen: seen.case.police_reference,
    "status": lambda seen: seen.request.status,
    "version": lambda seen: version(seen.request, seen.facts),
    "rule": lambda seen: seen.request.rule,
    "addressee": lambda seen: seen.request.addressee,
    "court": lambda seen: seen.request.court,
    "force": lambda seen: seen.case.force,
    "raised_at": lambda seen: seen.request.raised_at,
    "review_due_at": lambda seen: seen.request.review_due_at,
    "review_overdue": lambda seen: review_overdue(seen.request, seen.now),
    "submitted_at": lambda seen: seen.request.submitted_at,
    "received_at": lambda seen: _received_at(seen.request),
    "person": lambda seen: _person(seen.case.referral),
    "offence": lambda seen: _offence(seen.case),
    "officer": lambda seen: _officer(seen.case),
    "evidence": lambda seen: _evidence(seen.request.evidence),
    "attendance": _attendance,
    "warnings": lambda seen: [Warning(**w) for w in seen.request.warnings],
    "deadlines": lambda seen: Deadlines(**{k: v for k, v in seen.request.deadlines.items() if k in Deadlines.model_fields}),
    "acknowledged_at": lambda seen: seen.request.acknowledged_at,
    "hearing": lambda seen: _hearing(seen.request),
    "outcome": lambda seen: _outcome(seen.request),
    "withdrawal": lambda seen: _withdrawal(seen.request),
    "withdrawal_note": lambda seen: seen.request.withdrawal_note,
    "reported_after_submission": lambda seen: _late_evidence(seen.request, seen.facts),
}

# Who sees which fields of a request, in which phase: the one place it is said.
BREACH_REQUEST_VIEWS: Mapping[tuple[Role, Phase], type[BaseModel]] = {
    (Role.police, Phase.open): PoliceBreachRequest,  # the referring force: its own request, always whole
    (Role.police, Phase.closed): PoliceBreachRequest,
    (Role.court, Phase.open): CourtBreachRequest,
    (Role.court, Phase.closed): CourtBreachRequestRecord,
    (Role.yju, Phase.open): YjuBreachRequest,
    (Role.yju, Phase.closed): YjuBreachRequestRecord,
}


def phase(request: BreachRequestState) -> Phase:
    return Phase.open if request.open else Phase.closed


def view(role: Role, case: Case, request: BreachRequestState, facts: Sequence[Fact], now: datetime) -> BaseModel:
    """``role``'s view of the request as it stands (the court and the YJU: a submitted one)."""
    return build(BREACH_REQUEST_VIEWS[(role, phase(request))], FIELD_BUILDERS, _Seen(case, request, facts, now))
