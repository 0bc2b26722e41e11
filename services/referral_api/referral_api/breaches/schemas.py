"""What each party sees of a breach request, and what it may send.

Each party has a model of its own per phase (``referral_api.visibility``; the table is in
``views.BREACH_REQUEST_VIEWS``): a field added to the case or to the police's view cannot reach
the court or the YJU by accident. While a request is open, the court's and the YJU's views
hold what they need to act (docs/DOMAIN.md, "The parties"): who the person is, the encounter and offence, the officer in the
case, the rule that fired and the attendance evidence and warnings; never the assessment
outcome, health details, ethnicity or contact preferences. Once it is closed (withdrawn, or
its outcome recorded) they hold only the record of the decision: ids, dates, status, reason.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from diversion_common.contracts import CLOCK_ALLOWANCE, Note
from diversion_common.wire_types import DateTime
from referral_api.lifecycle.breach_requests import (
    OPEN_STATUSES,
    OfficerWithdrawalReason,
    Addressee,
    BreachRule,
    BreachStatus,
    CourtOutcome,
    BreachWithdrawalReason,
    YjuOutcome,
)
from diversion_common.contracts import text



class Evidence(BaseModel):
    """One fact behind a request, in coded values only: what, when, who reported it."""

    fact: str = Field(description="e.g. `appointment.missed`, `contact.attempted`, `deadline.passed`.")
    occurred_at: datetime | None = None
    reported_at: datetime | None = None
    reported_by: str = Field(description="`provider`, `police` or `referral_api` (the rules).")
    appointment_id: str | None = None
    kind: str | None = Field(default=None, description="An appointment's kind.")
    starts_at: datetime | None = None
    outcome: str | None = Field(default=None, description="An appointment's (attended, missed...) or a contact attempt's.")
    reason_category: str | None = Field(default=None, description="A missed appointment's: acceptable, unacceptable, logistics.")
    method: str | None = Field(default=None, description="A contact attempt's method.")
    deadline: str | None = None
    due_at: datetime | None = None


class LateFact(Evidence):
    """A provider's fact recorded after the request was submitted, while it was open."""

    corrects_evidence: bool = Field(
        description="A later report about an appointment this request cites as evidence: it replaces what the evidence says of it."
    )


class Warning(BaseModel):
    appointment_id: str | None
    issued_at: datetime


class Deadlines(BaseModel):
    deadline: str | None = Field(default=None, description="For an overdue breach: which deadline passed.")
    due_at: datetime | None = None
    assessment_due: datetime | None = None
    completion_due: datetime | None = None


class Hearing(BaseModel):
    at: datetime
    court_room: str | None


class DecisionOutcome(BaseModel):
    outcome: str
    recorded_at: datetime


class Outcome(DecisionOutcome):
    note: str | None


class Withdrawal(BaseModel):
    reason: BreachWithdrawalReason
    at: datetime


class PersonForCourt(BaseModel):
    given_name: str
    family_name: str
    date_of_birth: date
    address_line1: str
    address_line2: str | None = None
    town: str
    postcode: str


class OffenceSummary(BaseModel):
    encounter_at: datetime
    district: str
    police_reference: str
    drugs: list[str] = Field(description="Each drug found, with its class, e.g. `cannabis (class B)`.")


class OfficerInCase(BaseModel):
    force: str
    collar_number: str
    name: str


# The statuses in which the court or the YJU acts on a request; then those in which it is closed.
AddresseeOpenStatus = Literal[tuple(s for s in BreachStatus if s in OPEN_STATUSES and s is not BreachStatus.pending_oic_review)]  # type: ignore[valid-type]
ClosedStatus = Literal[tuple(s for s in BreachStatus if s not in OPEN_STATUSES)]  # type: ignore[valid-type]


class _AddresseeView(BaseModel):
    """Fields the court and the YJU both see."""

    id: uuid.UUID
    status: AddresseeOpenStatus
    version: int = Field(description="Grows with every change you can see: each step, and each fact reported after submission.")
    rule: BreachRule
    received_at: datetime = Field(description="When the officer submitted it.")
    person: PersonForCourt | None = Field(description="None once the case's personal data has been erased.")
    offence: OffenceSummary
    officer: OfficerInCase | None
    evidence: list[Evidence]
    attendance: list[Evidence]
    warnings: list[Warning]
    deadlines: Deadlines
    acknowledged_at: datetime | None
    outcome: Outcome | None
    withdrawal: Withdrawal | None
    reported_after_submission: list[LateFact] = Field(
        description=(
            "Facts the provider reported after the request was submitted and before it was closed (the person attended "
            "after all, say), whenever they happened: for the court or the YJU to weigh. Each one is also sent to the "
            "receiver's callback as `breach_request.updated` with `fact_reported`."
        )
    )


class CourtBreachRequest(_AddresseeView):
    court: str
    hearing: Hearing | None


class YjuBreachRequest(_AddresseeView):
    force: str


class _AddresseeRecord(BaseModel):
    """A closed request, as the court or the YJU keeps seeing it: the record of the decision
    (ids, dates, status, reason), never the person, the offence, the evidence or anyone's notes."""

    id: uuid.UUID
    status: ClosedStatus
    version: int = Field(description="Grows with every change you can see.")
    rule: BreachRule
    police_reference: str
    received_at: datetime = Field(description="When the officer submitted it.")
    acknowledged_at: datetime | None
    outcome: DecisionOutcome | None
    withdrawal: Withdrawal | None


class CourtBreachRequestRecord(_AddresseeRecord):
    court: str
    hearing: Hearing | None


class YjuBreachRequestRecord(_AddresseeRecord):
    force: str


CourtBreachRequestView = Annotated[CourtBreachRequest | CourtBreachRequestRecord, Field(discriminator="status")]
YjuBreachRequestView = Annotated[YjuBreachRequest | YjuBreachRequestRecord, Field(discriminator="status")]


class PoliceBreachRequest(BaseModel):
    """The referring force's view: its own request, for the officer in the case to review."""

    id: uuid.UUID
    case_id: uuid.UUID
    police_reference: str
    status: BreachStatus
    version: int
    rule: BreachRule
    addressee: Addressee
    court: str | None
    raised_at: datetime
    review_due_at: datetime | None
    review_overdue: bool = Field(description="Pending the officer's review past its due date.")
    submitted_at: datetime | None
    evidence: list[Evidence]
    attendance: list[Evidence]
    warnings: list[Warning]
    deadlines: Deadlines
    acknowledged_at: datetime | None
    hearing: Hearing | None
    outcome: Outcome | None
    withdrawal: Withdrawal | None
    withdrawal_note: str | None
    reported_after_submission: list[LateFact]


class CourtBreachRequestPage(BaseModel):
    items: list[CourtBreachRequestView]
    next_cursor: str | None


class YjuBreachRequestPage(BaseModel):
    items: list[YjuBreachRequestView]
    next_cursor: str | None


class PoliceBreachRequestPage(BaseModel):
    items: list[PoliceBreachRequest]
    next_cursor: str | None


class WithdrawBreachRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: OfficerWithdrawalReason = Field(description="Why the officer does not proceed (basis_corrected and referral_withdrawn are the system's own).")
    note: Note | None = None


class HearingRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hearing_at: DateTime = Field(
        description=(
            "When the hearing is (RFC 3339 with an offset): not before the request was submitted to the court "
            f"({CLOCK_ALLOWANCE.seconds // 60} minutes' clock allowance), else 422."
        )
    )
    court_room: text(60) | None = None


class OutcomeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: CourtOutcome | YjuOutcome = Field(
        description=(
            f"A court records one of {', '.join(CourtOutcome)} (an adult's request); the YJU one of "
            f"{', '.join(YjuOutcome)} (a young person's). The other body's outcome: 422."
        )
    )
    note: Note | None = None
