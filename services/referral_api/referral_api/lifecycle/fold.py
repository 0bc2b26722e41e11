"""A case's state as a pure fold over its log.

Facts are folded in the order they happened (occurred_at, then seq), once each;
so a late, repeated or corrected fact re-folds to the same answer as if it had
arrived on time. Only the current provider's facts shape the programme.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any, NamedTuple

from diversion_common.contracts import (
    AbsenceCategory,
    AppointmentKind,
    AppointmentMode,
    AssessmentOutcome,
    CancelledBy,
    CaseStatus,
    ContactOutcome,
    Pathway,
    ProviderClosureReason,
    Punctuality,
    TERMINAL_STATUSES,
)
from referral_api.lifecycle import programme
from referral_api.lifecycle.breach_requests import OPEN_STATUSES, Addressee, BreachRule, BreachStatus, BreachStep, next_status
from referral_api.lifecycle.facts import BREACH_STEP_KINDS, PROGRAMME_KINDS, PROVIDER_KINDS, Fact, FactKind, ordered
from referral_api.lifecycle.programme import DEFAULT_RULES, ProgrammeRules
from referral_api.lifecycle.status import Signals, derive_status

# Statuses in which the person is expected to be working through the programme.
ACTIVE_STATUSES = frozenset({CaseStatus.accepted_by_provider, CaseStatus.in_programme})


class AppointmentStatus(StrEnum):
    booked = "booked"
    cancelled = "cancelled"
    attended = "attended"
    missed = "missed"


_OUTCOME_OF = {
    FactKind.appointment_booked: AppointmentStatus.booked,
    FactKind.appointment_cancelled: AppointmentStatus.cancelled,
    FactKind.appointment_attended: AppointmentStatus.attended,
    FactKind.appointment_missed: AppointmentStatus.missed,
}


@dataclass(frozen=True)
class Appointment:
    appointment_id: str
    outcome: AppointmentStatus  # from the latest fact about it: later ones correct earlier ones
    # From the latest booking (a booking again reschedules); None if its booking is not in the log.
    kind: AppointmentKind | None
    starts_at: datetime | None
    mode: AppointmentMode | None
    out_of_hours: bool
    booked_at: datetime | None
    punctuality: Punctuality | None  # when attended
    reason_category: AbsenceCategory | None  # when missed
    cancelled_by: CancelledBy | None  # when cancelled
    updated_at: datetime  # occurred_at of the latest fact about it


@dataclass(frozen=True)
class ProgrammeState:
    requirements: tuple[str, ...]
    done: tuple[str, ...]  # in requirement order; only assessment.completed counts as "assessment"
    remaining: tuple[str, ...]
    appointments: tuple[Appointment, ...]  # by starts_at (unknown last), then id
    next_appointment: Appointment | None  # earliest starts_at still booked
    attended: int
    missed: Mapping[AbsenceCategory, int]  # every category present
    cancelled: int
    contact_attempts: int
    contacted: bool  # some attempt reached the person
    assessment_outcome: AssessmentOutcome | None  # the latest reported
    course_completed_at: datetime | None
    engagement_refused_at: datetime | None
    completion_due: datetime | None
    assessment_due: datetime | None


@dataclass(frozen=True)
class BreachRequestState:
    id: uuid.UUID
    rule: BreachRule
    addressee: Addressee
    court: str | None  # for an adult's request: the court it is addressed to
    basis_key: str  # what it was raised on: the same basis never raises a second request
    raised_at: datetime
    review_due_at: datetime | None  # the officer's review is due by then
    evidence: tuple[Mapping[str, Any], ...]  # frozen when raised
    warnings: tuple[Mapping[str, Any], ...]
    deadlines: Mapping[str, Any]
    status: BreachStatus
    submitted_at: datetime | None
    acknowledged_at: datetime | None
    hearing_at: datetime | None
    court_room: str | None
    outcome: str | None
    outcome_note: str | None
    outcome_at: datetime | None
    withdrawal_reason: str | None
    withdrawal_note: str | None
    withdrawn_at: datetime | None
    updated_at: datetime
    steps: int  # facts about it, from its raising: its version

    @property
    def open(self) -> bool:
        return self.status in OPEN_STATUSES


_STEP_OF = {
    FactKind.breach_submitted: BreachStep.confirm,
    FactKind.breach_acknowledged: BreachStep.acknowledge,
    FactKind.breach_hearing_scheduled: BreachStep.schedule_hearing,
    FactKind.breach_outcome_recorded: BreachStep.record_outcome,
    FactKind.breach_withdrawn: BreachStep.withdraw,
}


def _apply_breach_fact(requests: dict[uuid.UUID, BreachRequestState], fact: Fact) -> None:
    data, at = fact.data, fact.occurred_at
    request_id = uuid.UUID(str(data["breach_request_id"]))
    if fact.kind is FactKind.breach_raised:
        if request_id not in requests:
            requests[request_id] = BreachRequestState(
                id=request_id, rule=BreachRule(data["rule"]), addressee=Addressee(data["addressee"]), court=data.get("court"),
                basis_key=data["basis_key"], raised_at=at,
                review_due_at=_instant(data["review_due_at"]) if data.get("review_due_at") else None,
                evidence=tuple(data.get("evidence", ())), warnings=tuple(data.get("warnings", ())),
                deadlines=dict(data.get("deadlines", {})), status=BreachStatus.pending_oic_review,
                submitted_at=None, acknowledged_at=None, hearing_at=None, court_room=None, outcome=None,
                outcome_note=None, outcome_at=None, withdrawal_reason=None, withdrawal_note=None, withdrawn_at=None,
                updated_at=at, steps=1,
            )
        return
    request = requests.get(request_id)
    if request is None:
        return  # a step about a request this case never raised changes nothing
    step = _STEP_OF[fact.kind]
    if fact.kind is FactKind.breach_withdrawn and request.status is BreachStatus.pending_oic_review:
        step = BreachStep.withdraw  # either withdrawal is allowed from here
    status = next_status(request.addressee, request.status, step)
    if status is None:
        return  # the service refuses illegal steps; a log holding one anyway does not move
    changes: dict[str, Any] = {"status": status, "updated_at": at, "steps": request.steps + 1}
    if fact.kind is FactKind.breach_submitted:
        changes["submitted_at"] = at
    elif fact.kind is FactKind.breach_acknowledged:
        changes["acknowledged_at"] = at
    elif fact.kind is FactKind.breach_hearing_scheduled:
        changes["hearing_at"], changes["court_room"] = _instant(data["hearing_at"]), data.get("court_room")
    elif fact.kind is FactKind.breach_outcome_recorded:
        changes["outcome"], changes["outcome_note"], changes["outcome_at"] = data["outcome"], data.get("note"), at
    elif fact.kind is FactKind.breach_withdrawn:
        changes["withdrawal_reason"], changes["withdrawal_note"], changes["withdrawn_at"] = data["reason"], data.get("note"), at
    requests[request_id] = replace(request, **changes)


class Transition(NamedTuple):
    status: CaseStatus
    kind: FactKind  # the fact after which the case had this status
    at: datetime
    seq: int


@dataclass(frozen=True)
class CaseState:
    status: CaseStatus
    version: int  # distinct facts folded
    pathway: Pathway | None
    needs_yju: bool
    provider_id: uuid.UUID | None  # the current provider
    routed_at: datetime | None  # when the case was sent to the current provider
    accepted_at: datetime | None  # by the current provider
    ended_at: datetime | None  # when the fact behind a terminal status happened
    next_deadline_at: datetime | None
    programme: ProgrammeState
    transitions: tuple[Transition, ...]
    withdrawal_reason: str | None  # the police's reason code
    closure_reason: ProviderClosureReason | None
    rejected_by: tuple[uuid.UUID, ...]  # providers that rejected it, first rejection first
    breach_requests: tuple[BreachRequestState, ...] = ()  # in the order they were raised
    warned_appointments: frozenset[str] = frozenset()  # appointments a warning was issued for
    reminders_sent: frozenset[str] = frozenset()  # their keys (see lifecycle.enforcement)

    @property
    def open_breach_request(self) -> BreachRequestState | None:
        return next((request for request in self.breach_requests if request.open), None)

    def breach_request(self, request_id: uuid.UUID) -> BreachRequestState | None:
        return next((request for request in self.breach_requests if request.id == request_id), None)

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


@dataclass
class _AppointmentLog:
    """Every report about one appointment. Its outcome follows the reports in the order they
    were made (a later report corrects an earlier one), not their occurred_at: a correction
    says what happened at the appointment's own time."""

    facts: list[Fact] = field(default_factory=list)

    def in_report_order(self) -> list[Fact]:
        return sorted(self.facts, key=lambda f: f.seq)


@dataclass
class _ProviderLog:
    """One provider's side of the case; facts arrive in the order they happened."""

    accepted_at: datetime | None = None
    first_activity_at: datetime | None = None
    engaged_at: datetime | None = None  # the person reached, or an appointment made: in the programme
    completed_at: datetime | None = None
    closed_at: datetime | None = None
    closure_reason: ProviderClosureReason | None = None
    refused_at: datetime | None = None
    appointments: dict[str, _AppointmentLog] = field(default_factory=dict)
    contact_attempts: int = 0
    contacted: bool = False
    assessment_outcome: AssessmentOutcome | None = None
    done: set[str] = field(default_factory=set)

    def apply(self, fact: Fact) -> None:
        kind, data, at = fact.kind, fact.data, fact.occurred_at
        if kind in PROGRAMME_KINDS and self.first_activity_at is None:
            self.first_activity_at = at
        reached = kind is FactKind.contact_attempted and ContactOutcome(data["outcome"]) is ContactOutcome.reached
        if self.engaged_at is None and (reached or (kind in PROGRAMME_KINDS and kind is not FactKind.contact_attempted)):
            self.engaged_at = at
        if kind is FactKind.referral_accepted:
            self.accepted_at = self.accepted_at or at
        elif kind is FactKind.contact_attempted:
            self.contact_attempts += 1
            self.contacted = self.contacted or reached
        elif kind in _OUTCOME_OF:
            self.appointments.setdefault(data["appointment_id"], _AppointmentLog()).facts.append(fact)
        elif kind is FactKind.assessment_completed:
            self.assessment_outcome = AssessmentOutcome(data["outcome"])
            self.done.add(programme.ASSESSMENT)
        elif kind is FactKind.intervention_completed:
            self.done.add(programme.requirement_name(data["intervention"], data.get("session_number")))
        elif kind is FactKind.course_completed:
            self.completed_at = self.completed_at or at
        elif kind is FactKind.engagement_refused:
            self.refused_at = self.refused_at or at
        elif kind is FactKind.closed_by_provider:
            if self.closed_at is None:
                self.closed_at = at
                self.closure_reason = ProviderClosureReason(data["reason"])

    @property
    def acceptance(self) -> datetime | None:
        # Work with the person cannot precede taking the case on, so the earlier of the two.
        known = [at for at in (self.accepted_at, self.first_activity_at) if at is not None]
        return min(known) if known else None


_NO_PROVIDER = _ProviderLog()


def fold(facts: Iterable[Fact], rules: ProgrammeRules = DEFAULT_RULES) -> CaseState:
    log = ordered(facts)
    pathway: Pathway | None = None
    needs_yju = False
    yju_decided = False
    yju_declined_at: datetime | None = None
    withdrawn_at: datetime | None = None
    withdrawal_reason: str | None = None
    current: uuid.UUID | None = None
    routed_at: datetime | None = None
    unroutable = False
    providers: dict[uuid.UUID, _ProviderLog] = {}
    rejected_by: list[uuid.UUID] = []
    transitions: list[Transition] = []
    status: CaseStatus | None = None
    breach_requests: dict[uuid.UUID, BreachRequestState] = {}
    warned: set[str] = set()
    reminders: set[str] = set()

    for fact in log:
        kind, data = fact.kind, fact.data
        if kind is FactKind.referral_received:
            if pathway is None:
                pathway = Pathway(data["pathway"])
                needs_yju = bool(data.get("needs_yju", False))
        elif kind is FactKind.yju_decided:
            yju_decided = True
            decision = data["decision"]
            if decision not in ("divert", "decline"):
                raise ValueError(f"unknown YJU decision {decision!r}")
            if decision == "decline" and yju_declined_at is None:
                yju_declined_at = fact.occurred_at
        elif kind in (FactKind.routed, FactKind.unroutable) and status in TERMINAL_STATUSES:
            pass  # an ended case is routed nowhere: a late routing changes nothing
        elif kind is FactKind.routed:
            current, unroutable = uuid.UUID(str(data["provider_id"])), False
            routed_at = fact.occurred_at
        elif kind is FactKind.unroutable:
            current, routed_at, unroutable = None, None, True
        elif kind is FactKind.withdrawn:
            if withdrawn_at is None:
                withdrawn_at, withdrawal_reason = fact.occurred_at, data.get("reason")
        elif kind in BREACH_STEP_KINDS:
            _apply_breach_fact(breach_requests, fact)
        elif kind is FactKind.warning_issued:
            warned.add(str(data["appointment_id"]))
        elif kind is FactKind.reminder_sent:
            reminders.add(str(data["key"]))
        elif kind in PROVIDER_KINDS:
            provider_id = fact.provider_id
            if provider_id is None:
                raise ValueError(f"a {kind.value} fact must come from a provider, not {fact.source!r}")
            if kind is FactKind.referral_rejected and provider_id not in rejected_by:
                rejected_by.append(provider_id)
            providers.setdefault(provider_id, _ProviderLog()).apply(fact)

        mine = providers.get(current, _NO_PROVIDER) if current is not None else _NO_PROVIDER
        new_status = derive_status(
            Signals(
                withdrawn=withdrawn_at is not None,
                yju_declined=yju_declined_at is not None,
                awaiting_yju=needs_yju and not yju_decided,
                breach_decided=any(r.status is BreachStatus.outcome_recorded for r in breach_requests.values()),
                breach_open=any(r.open for r in breach_requests.values()),
                completed=mine.completed_at is not None,
                closed=mine.closed_at is not None,
                refused=mine.refused_at is not None,
                in_programme=mine.engaged_at is not None,
                accepted=mine.acceptance is not None,
                has_provider=current is not None,
                unroutable=unroutable,
            )
        )
        if new_status != status:
            transitions.append(Transition(new_status, kind, fact.occurred_at, fact.seq))
            status = new_status

    if status is None:
        status = CaseStatus.awaiting_routing
    mine = providers.get(current, _NO_PROVIDER) if current is not None else _NO_PROVIDER
    accepted_at = mine.acceptance
    state_programme = _programme(mine, pathway, accepted_at, rules)
    ended_at = {
        CaseStatus.withdrawn: withdrawn_at,
        CaseStatus.declined_by_yju: yju_declined_at,
        CaseStatus.completed: mine.completed_at,
        CaseStatus.closed_by_provider: mine.closed_at,
        CaseStatus.breach_decided: max(
            (r.outcome_at for r in breach_requests.values() if r.outcome_at is not None), default=None
        ),
    }.get(status)
    return CaseState(
        status=status,
        version=len(log),
        pathway=pathway,
        needs_yju=needs_yju,
        provider_id=current,
        routed_at=routed_at,
        accepted_at=accepted_at,
        ended_at=ended_at,
        next_deadline_at=_next_deadline(status, state_programme),
        programme=state_programme,
        transitions=tuple(transitions),
        withdrawal_reason=withdrawal_reason,
        closure_reason=mine.closure_reason if status is CaseStatus.closed_by_provider else None,
        rejected_by=tuple(rejected_by),
        breach_requests=tuple(sorted(breach_requests.values(), key=lambda r: (r.raised_at, str(r.id)))),
        warned_appointments=frozenset(warned),
        reminders_sent=frozenset(reminders),
    )


def _appointment(appointment_id: str, entry: _AppointmentLog) -> Appointment:
    reports = entry.in_report_order()
    booking_fact: Fact | None = None
    latest = reports[0]
    outcome = AppointmentStatus.booked
    for report in reports:
        if report.kind is FactKind.appointment_booked:
            booking_fact = report
            # A booking again reschedules one still open or cancelled; it never erases an attendance or a miss.
            if outcome in (AppointmentStatus.booked, AppointmentStatus.cancelled):
                outcome, latest = AppointmentStatus.booked, report
        else:
            outcome, latest = _OUTCOME_OF[report.kind], report
    booking: Mapping[str, Any] = booking_fact.data if booking_fact is not None else {}
    return Appointment(
        appointment_id=appointment_id,
        outcome=outcome,
        kind=AppointmentKind(booking["kind"]) if booking else None,
        starts_at=_instant(booking["starts_at"]) if booking else None,
        mode=AppointmentMode(booking["mode"]) if booking else None,
        out_of_hours=bool(booking.get("out_of_hours", False)),
        booked_at=booking_fact.occurred_at if booking_fact is not None else None,
        punctuality=Punctuality(latest.data.get("punctuality", Punctuality.on_time))
        if outcome is AppointmentStatus.attended
        else None,
        reason_category=AbsenceCategory(latest.data["reason_category"]) if outcome is AppointmentStatus.missed else None,
        cancelled_by=CancelledBy(latest.data["cancelled_by"]) if outcome is AppointmentStatus.cancelled else None,
        updated_at=latest.occurred_at,
    )

def _instant(value: str | datetime) -> datetime:
    # Data holds JSON (an RFC 3339 string); callers building facts by hand may pass a datetime.
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def _programme(
    log: _ProviderLog, pathway: Pathway | None, accepted_at: datetime | None, rules: ProgrammeRules
) -> ProgrammeState:
    required = programme.requirements(pathway)
    appointments = sorted(
        (_appointment(appointment_id, entry) for appointment_id, entry in log.appointments.items()),
        key=lambda a: (a.starts_at is None, a.starts_at or datetime.min, a.appointment_id),
    )
    booked = [a for a in appointments if a.outcome is AppointmentStatus.booked and a.starts_at is not None]
    missed = {category: 0 for category in AbsenceCategory}
    for appointment in appointments:
        if appointment.reason_category is not None:
            missed[appointment.reason_category] += 1
    can_have_deadlines = pathway is not None and accepted_at is not None
    return ProgrammeState(
        requirements=required,
        # A requirement outside the pathway (an adult's "session_2") fulfils nothing.
        done=tuple(name for name in required if name in log.done),
        remaining=tuple(name for name in required if name not in log.done),
        appointments=tuple(appointments),
        next_appointment=booked[0] if booked else None,
        attended=sum(a.outcome is AppointmentStatus.attended for a in appointments),
        missed=missed,
        cancelled=sum(a.outcome is AppointmentStatus.cancelled for a in appointments),
        contact_attempts=log.contact_attempts,
        contacted=log.contacted,
        assessment_outcome=log.assessment_outcome,
        course_completed_at=log.completed_at,
        engagement_refused_at=log.refused_at,
        completion_due=programme.completion_due(pathway, accepted_at, rules) if can_have_deadlines else None,
        assessment_due=programme.assessment_due(pathway, accepted_at, rules) if can_have_deadlines else None,
    )


def _next_deadline(status: CaseStatus, state: ProgrammeState) -> datetime | None:
    # Terminal or refused cases, and cases no provider has taken on, have nothing falling due.
    if status not in ACTIVE_STATUSES:
        return None
    pending = [state.completion_due]
    if programme.ASSESSMENT not in state.done:
        pending.append(state.assessment_due)
    known = [due for due in pending if due is not None]
    return min(known) if known else None
