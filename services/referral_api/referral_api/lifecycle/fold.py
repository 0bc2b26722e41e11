"""A case's state, folded one fact at a time onto its stored snapshot. No I/O.

``evolve(snapshot, fact)`` folds one more fact onto a ``CaseSnapshot`` in the order facts
were recorded (seq), so a new fact costs one step however long the log is. What the state
says about *when* things happened does not depend on that order: each part of the snapshot
is a reduction (the earliest withdrawal, the earliest acceptance, the latest assessment
outcome, every routing by its time...), and ``state_of`` sweeps the case's status history
over those moments (a handful per case). So a late, repeated or corrected fact lands where
it happened, as if it had arrived on time. Two things follow recording order on purpose:
the reports about one appointment (a later report corrects an earlier one), and the steps
of a breach request (each decision follows the facts it was taken on, whatever their dates).

``fold(facts)`` is the same from nothing: the test oracle, and how a snapshot is rebuilt.
Only the current provider's facts shape the programme.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any, NamedTuple

from diversion_common.contracts import (
    Deadline,
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
from referral_api.lifecycle.facts import (
    APPOINTMENT_OUTCOME_KINDS,
    BREACH_STEP_KINDS,
    PROVIDER_KINDS,
    Fact,
    FactKind,
    fact_evidence,
    ordered,
)
from referral_api.lifecycle.events import (
    BreachRequestChanged,
    DomainEvent,
    FactReportedAfterSubmission,
    ReminderSent,
    StatusChanged,
    WarningIssued,
)
from referral_api.lifecycle.programme import DEFAULT_RULES, ProgrammeRules
from referral_api.lifecycle.status import Signals, derive_status

@dataclass(frozen=True, order=True)
class Mark:
    """A moment in the case's history: when a fact happened, its seq (which breaks ties), its kind."""

    at: datetime
    seq: int
    kind: FactKind


def _mark(fact: Fact) -> Mark:
    return Mark(fact.occurred_at, fact.seq, fact.kind)


def _earliest(current: Mark | None, new: Mark) -> Mark:
    return new if current is None or new < current else current


def _reached_by(mark: Mark | None, point: Mark) -> bool:
    return mark is not None and mark <= point


# Work with the person: it shows the provider has taken the case on, whether or not
# its referral.accepted has arrived yet.
PROGRAMME_KINDS = APPOINTMENT_OUTCOME_KINDS | {
    FactKind.appointment_booked,
    FactKind.contact_attempted,
    FactKind.assessment_completed,
    FactKind.intervention_completed,
    FactKind.course_completed,
}

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
    attendance: tuple[Mapping[str, Any], ...] = ()  # the attendance record when it was raised
    # Each step taken, in the order recorded, with the status it led to: the case's history reads it.
    history: tuple[tuple[Mark, BreachStatus], ...] = ()

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


def _breach_step(requests: Mapping[uuid.UUID, BreachRequestState], fact: Fact) -> Mapping[uuid.UUID, BreachRequestState]:
    """The requests after one step, taken in the order it was recorded."""
    data, at, mark = fact.data, fact.occurred_at, _mark(fact)
    request_id = uuid.UUID(str(data["breach_request_id"]))
    request = requests.get(request_id)
    if fact.kind is FactKind.breach_raised:
        if request is not None:
            return requests
        raised = BreachRequestState(
            id=request_id, rule=BreachRule(data["rule"]), addressee=Addressee(data["addressee"]), court=data.get("court"),
            basis_key=data["basis_key"], raised_at=at,
            review_due_at=_instant(data["review_due_at"]) if data.get("review_due_at") else None,
            evidence=tuple(data.get("evidence", ())), warnings=tuple(data.get("warnings", ())),
            deadlines=dict(data.get("deadlines", {})), status=BreachStatus.pending_oic_review,
            submitted_at=None, acknowledged_at=None, hearing_at=None, court_room=None, outcome=None,
            outcome_note=None, outcome_at=None, withdrawal_reason=None, withdrawal_note=None, withdrawn_at=None,
            updated_at=at, steps=1, attendance=tuple(data.get("attendance", ())),
            history=((mark, BreachStatus.pending_oic_review),),
        )
        return {**requests, request_id: raised}
    if request is None:
        return requests  # a step about a request this case never raised (or not yet) changes nothing
    status = next_status(request.addressee, request.status, _STEP_OF[fact.kind])
    if status is None:
        return requests  # the service refuses illegal steps; a log holding one anyway does not move
    changes: dict[str, Any] = {
        "status": status, "updated_at": at, "steps": request.steps + 1, "history": (*request.history, (mark, status)),
    }
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
    return {**requests, request_id: replace(request, **changes)}


def _status_by(request: BreachRequestState, point: Mark) -> BreachStatus | None:
    """The request's status at a moment of the case's history: after the last step recorded of
    those that had happened by then (None: not raised by then)."""
    taken = [(mark.seq, status) for mark, status in request.history if mark <= point]
    return max(taken)[1] if taken else None


class Transition(NamedTuple):
    status: CaseStatus
    kind: FactKind  # the fact after which the case had this status
    at: datetime
    seq: int


@dataclass(frozen=True)
class Engagement:
    """What the breach rules cite from the current provider's facts, as evidence (each with its seq)."""

    unanswered_attempts: tuple[Mapping[str, Any], ...] = ()  # every contact attempt, while nobody has been reached
    first_attempt_at: datetime | None = None
    last_attempt_at: datetime | None = None
    refusals: tuple[Mapping[str, Any], ...] = ()  # every engagement.refused
    assessed_at: datetime | None = None  # the first assessment.completed


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
    answered_at: datetime | None = None  # the current provider's own referral.accepted (accepted_at may be earlier work)
    breach_requests: tuple[BreachRequestState, ...] = ()  # in the order they were raised
    warned_appointments: frozenset[str] = frozenset()  # appointments a warning was issued for
    reminders_sent: frozenset[str] = frozenset()  # their keys (see lifecycle.enforcement)
    warnings: tuple[Mapping[str, Any], ...] = ()  # {"appointment_id", "issued_at"}, in the order issued
    # Evidence carries each fact's seq, which says nothing about the case's state: not compared.
    engagement: Engagement = field(default_factory=Engagement, compare=False)

    @property
    def open_breach_request(self) -> BreachRequestState | None:
        return next((request for request in self.breach_requests if request.open), None)

    def breach_request(self, request_id: uuid.UUID) -> BreachRequestState | None:
        return next((request for request in self.breach_requests if request.id == request_id), None)

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


@dataclass(frozen=True)
class ProviderWork:
    """One provider's side of the case, as reductions that do not depend on arrival order."""

    accepted: Mark | None = None
    first_activity: Mark | None = None
    engaged: Mark | None = None  # the person reached, or an appointment made: in the programme
    completed: Mark | None = None
    closed: Mark | None = None
    closure_reason: ProviderClosureReason | None = None
    refused: Mark | None = None
    assessed: Mark | None = None  # the first assessment.completed
    assessment_reported: Mark | None = None  # the latest one: its outcome stands
    assessment_outcome: AssessmentOutcome | None = None
    appointments: Mapping[str, Appointment] = field(default_factory=dict)
    last_report: Mapping[str, int] = field(default_factory=dict)  # each appointment's latest report's seq
    contact_attempts: int = 0
    contacted: bool = False
    engagement: Engagement = field(default_factory=Engagement)
    done: frozenset[str] = frozenset()

    @property
    def acceptance(self) -> Mark | None:
        # Work with the person cannot precede taking the case on, so the earlier of the two.
        known = [mark for mark in (self.accepted, self.first_activity) if mark is not None]
        return min(known) if known else None


_NO_PROVIDER = ProviderWork()


@dataclass(frozen=True)
class Routing:
    mark: Mark
    provider_id: uuid.UUID | None  # None: no provider could take it


@dataclass(frozen=True)
class CaseSnapshot:
    """Everything the fold keeps about a case: stored beside it, one fact folded on at a time."""

    version: int = 0
    first: Mark | None = None  # the earliest fact
    referral: Mark | None = None
    pathway: Pathway | None = None
    needs_yju: bool = False
    yju_decided: Mark | None = None
    yju_declined: Mark | None = None
    withdrawn: Mark | None = None
    withdrawal_reason: str | None = None
    routings: tuple[Routing, ...] = ()  # by when they happened
    providers: Mapping[uuid.UUID, ProviderWork] = field(default_factory=dict)
    rejections: Mapping[uuid.UUID, Mark] = field(default_factory=dict)  # each provider's first
    breach_requests: Mapping[uuid.UUID, BreachRequestState] = field(default_factory=dict)
    warnings: tuple[tuple[Mark, str], ...] = ()  # (when, appointment id), by when
    reminders_sent: frozenset[str] = frozenset()


def evolve(snapshot: CaseSnapshot, fact: Fact) -> CaseSnapshot:
    """The snapshot with one more fact: a new one, recorded after every fact already folded."""
    kind, data, mark = fact.kind, fact.data, _mark(fact)
    changes: dict[str, Any] = {"version": snapshot.version + 1, "first": _earliest(snapshot.first, mark)}
    if kind is FactKind.referral_received:
        if snapshot.referral is None or mark < snapshot.referral:
            changes.update(referral=mark, pathway=Pathway(data["pathway"]), needs_yju=bool(data.get("needs_yju", False)))
    elif kind is FactKind.yju_decided:
        decision = data["decision"]
        if decision not in ("divert", "decline"):
            raise ValueError(f"unknown YJU decision {decision!r}")
        changes["yju_decided"] = _earliest(snapshot.yju_decided, mark)
        if decision == "decline":
            changes["yju_declined"] = _earliest(snapshot.yju_declined, mark)
    elif kind in (FactKind.routed, FactKind.unroutable):
        provider = uuid.UUID(str(data["provider_id"])) if kind is FactKind.routed else None
        changes["routings"] = tuple(sorted((*snapshot.routings, Routing(mark, provider)), key=lambda r: r.mark))
    elif kind is FactKind.withdrawn:
        if snapshot.withdrawn is None or mark < snapshot.withdrawn:
            changes.update(withdrawn=mark, withdrawal_reason=data.get("reason"))
    elif kind in BREACH_STEP_KINDS:
        changes["breach_requests"] = _breach_step(snapshot.breach_requests, fact)
    elif kind is FactKind.warning_issued:
        changes["warnings"] = tuple(sorted((*snapshot.warnings, (mark, str(data["appointment_id"]))), key=lambda w: w[0]))
    elif kind is FactKind.reminder_sent:
        changes["reminders_sent"] = snapshot.reminders_sent | {str(data["key"])}
    elif kind in PROVIDER_KINDS:
        provider_id = fact.provider_id
        if provider_id is None:
            raise ValueError(f"a {kind.value} fact must come from a provider, not {fact.source!r}")
        if kind is FactKind.referral_rejected and (provider_id not in snapshot.rejections or mark < snapshot.rejections[provider_id]):
            changes["rejections"] = {**snapshot.rejections, provider_id: mark}
        work = _provider_step(snapshot.providers.get(provider_id, _NO_PROVIDER), fact)
        changes["providers"] = {**snapshot.providers, provider_id: work}
    return replace(snapshot, **changes)


def _provider_step(work: ProviderWork, fact: Fact) -> ProviderWork:
    kind, data, mark = fact.kind, fact.data, _mark(fact)
    changes: dict[str, Any] = {}
    if kind in PROGRAMME_KINDS:
        changes["first_activity"] = _earliest(work.first_activity, mark)
    reached = kind is FactKind.contact_attempted and ContactOutcome(data["outcome"]) is ContactOutcome.reached
    if reached or (kind in PROGRAMME_KINDS and kind is not FactKind.contact_attempted):
        changes["engaged"] = _earliest(work.engaged, mark)
    if kind is FactKind.referral_accepted:
        changes["accepted"] = _earliest(work.accepted, mark)
    elif kind is FactKind.contact_attempted:
        contacted = work.contacted or reached
        engagement = work.engagement
        changes.update(contact_attempts=work.contact_attempts + 1, contacted=contacted, engagement=replace(
            engagement,
            # Once someone reached the person, no-contact can never be their breach: nothing to cite.
            unanswered_attempts=() if contacted else _by_time((*engagement.unanswered_attempts, fact_evidence(fact))),
            first_attempt_at=min(filter(None, (engagement.first_attempt_at, fact.occurred_at))),
            last_attempt_at=max(filter(None, (engagement.last_attempt_at, fact.occurred_at))),
        ))
    elif kind in _OUTCOME_OF:
        appointment_id = str(data["appointment_id"])
        changes["appointments"] = {**work.appointments, appointment_id: _appointment_step(work.appointments.get(appointment_id), appointment_id, fact)}
        changes["last_report"] = {**work.last_report, appointment_id: fact.seq}
    elif kind is FactKind.assessment_completed:
        changes["assessed"] = _earliest(work.assessed, mark)
        changes["engagement"] = replace(work.engagement, assessed_at=changes["assessed"].at)
        if work.assessment_reported is None or mark > work.assessment_reported:
            changes.update(assessment_reported=mark, assessment_outcome=AssessmentOutcome(data["outcome"]))
        changes["done"] = work.done | {programme.ASSESSMENT}
    elif kind is FactKind.intervention_completed:
        changes["done"] = work.done | {programme.requirement_name(data["intervention"], data.get("session_number"))}
    elif kind is FactKind.course_completed:
        changes["completed"] = _earliest(work.completed, mark)
    elif kind is FactKind.engagement_refused:
        changes["refused"] = _earliest(work.refused, mark)
        changes["engagement"] = replace(work.engagement, refusals=_by_time((*work.engagement.refusals, fact_evidence(fact))))
    elif kind is FactKind.case_closed_by_provider:
        if work.closed is None or mark < work.closed:
            changes.update(closed=mark, closure_reason=ProviderClosureReason(data["reason"]))
    return replace(work, **changes)


def _by_time(evidence: tuple[Mapping[str, Any], ...]) -> tuple[Mapping[str, Any], ...]:
    return tuple(sorted(evidence, key=lambda item: (item["occurred_at"], item["seq"])))


def _appointment_step(appointment: Appointment | None, appointment_id: str, fact: Fact) -> Appointment:
    """One more report about an appointment, in the order reports were made: a later one corrects an earlier one."""
    data, at = fact.data, fact.occurred_at
    if appointment is None:
        appointment = Appointment(
            appointment_id=appointment_id, outcome=AppointmentStatus.booked, kind=None, starts_at=None, mode=None,
            out_of_hours=False, booked_at=None, punctuality=None, reason_category=None, cancelled_by=None, updated_at=at,
        )
    if fact.kind is FactKind.appointment_booked:
        booking = {
            "kind": AppointmentKind(data["kind"]), "starts_at": _instant(data["starts_at"]), "mode": AppointmentMode(data["mode"]),
            "out_of_hours": bool(data.get("out_of_hours", False)), "booked_at": at,
        }
        # A booking again reschedules one still open or cancelled; it never erases an attendance or a miss.
        if appointment.outcome in (AppointmentStatus.booked, AppointmentStatus.cancelled):
            return replace(appointment, **booking, outcome=AppointmentStatus.booked, punctuality=None,
                           reason_category=None, cancelled_by=None, updated_at=at)
        return replace(appointment, **booking)
    outcome = _OUTCOME_OF[fact.kind]
    return replace(
        appointment,
        outcome=outcome,
        punctuality=Punctuality(data.get("punctuality", Punctuality.on_time)) if outcome is AppointmentStatus.attended else None,
        reason_category=AbsenceCategory(data["reason_category"]) if outcome is AppointmentStatus.missed else None,
        cancelled_by=CancelledBy(data["cancelled_by"]) if outcome is AppointmentStatus.cancelled else None,
        updated_at=at,
    )


def step(
    snapshot: CaseSnapshot, before: CaseState | None, fact: Fact, rules: ProgrammeRules = DEFAULT_RULES
) -> tuple[CaseSnapshot, CaseState, tuple[DomainEvent, ...]]:
    """One new fact onto the snapshot (whose state is ``before``; None for a case's first fact):
    the new snapshot, its state, and the domain events the fact caused."""
    folded = evolve(snapshot, fact)
    after = state_of(folded, rules)
    return folded, after, happened(before, after, fact)


def happened(before: CaseState | None, after: CaseState, fact: Fact) -> tuple[DomainEvent, ...]:
    """The events a new fact caused, given the state before it (None: the case's first fact) and after."""
    events: list[DomainEvent] = []
    previous = before.status if before is not None else None
    if after.status != previous:
        reason = fact.data.get("reason") if fact.kind is FactKind.withdrawn else None
        events.append(StatusChanged(previous, after.status, reason, fact.source))
    if fact.kind in BREACH_STEP_KINDS:
        request_id = uuid.UUID(str(fact.data["breach_request_id"]))
        now, then = after.breach_request(request_id), before.breach_request(request_id) if before is not None else None
        if now is not None and (then is None or now.steps != then.steps):
            events.append(BreachRequestChanged(request_id))  # a step the request could not take changes nothing
    elif fact.kind is FactKind.warning_issued:
        events.append(WarningIssued(fact.data.get("appointment_id")))
    elif fact.kind is FactKind.reminder_sent:
        deadline, due_at, request = fact.data.get("deadline"), fact.data.get("due_at"), fact.data.get("breach_request_id")
        events.append(ReminderSent(
            Deadline(deadline) if deadline else None,
            datetime.fromisoformat(due_at) if due_at else None,
            uuid.UUID(str(request)) if request else None,
        ))
    if fact.kind in PROVIDER_KINDS:
        events.extend(
            FactReportedAfterSubmission(request.id, fact.source, fact.source_id)
            for request in after.breach_requests
            if request.open and request.submitted_at is not None
        )
    return tuple(events)


def fold(facts: Iterable[Fact], rules: ProgrammeRules = DEFAULT_RULES) -> CaseState:
    """The state from nothing: each distinct fact (a redelivery counts once, as first recorded), in the order recorded."""
    return state_of(fold_snapshot(facts), rules)


def fold_snapshot(facts: Iterable[Fact]) -> CaseSnapshot:
    snapshot = CaseSnapshot()
    for fact in sorted(ordered(facts), key=lambda f: f.seq):
        snapshot = evolve(snapshot, fact)
    return snapshot


def state_of(snapshot: CaseSnapshot, rules: ProgrammeRules = DEFAULT_RULES) -> CaseState:
    """The case as the snapshot says: its status history swept over the moments that can change it."""
    providers, requests = snapshot.providers, tuple(snapshot.breach_requests.values())
    routings = {routing.mark: routing for routing in snapshot.routings}
    moments = {snapshot.first, snapshot.referral, snapshot.yju_decided, snapshot.yju_declined, snapshot.withdrawn, *routings}
    for work in providers.values():
        moments |= {work.accepted, work.first_activity, work.engaged, work.completed, work.closed, work.refused}
    moments |= {mark for request in requests for mark, _ in request.history}
    status: CaseStatus | None = None
    current: uuid.UUID | None = None
    routed_at: datetime | None = None
    unroutable = False
    transitions: list[Transition] = []
    for point in sorted(m for m in moments if m is not None):
        routing = routings.get(point)
        # An ended case is routed nowhere: a routing after its end changes nothing.
        if routing is not None and status not in TERMINAL_STATUSES:
            current, unroutable = routing.provider_id, routing.provider_id is None
            routed_at = point.at if routing.provider_id is not None else None
        mine = providers.get(current, _NO_PROVIDER) if current is not None else _NO_PROVIDER
        by_then = [s for s in (_status_by(request, point) for request in requests) if s is not None]
        new_status = derive_status(
            Signals(
                withdrawn=_reached_by(snapshot.withdrawn, point),
                yju_declined=_reached_by(snapshot.yju_declined, point),
                awaiting_yju=_reached_by(snapshot.referral, point) and snapshot.needs_yju and not _reached_by(snapshot.yju_decided, point),
                breach_decided=BreachStatus.outcome_recorded in by_then,
                breach_open=any(s in OPEN_STATUSES for s in by_then),
                completed=_reached_by(mine.completed, point),
                closed=_reached_by(mine.closed, point),
                refused=_reached_by(mine.refused, point),
                in_programme=_reached_by(mine.engaged, point),
                accepted=_reached_by(mine.acceptance, point),
                has_provider=current is not None,
                unroutable=unroutable,
            )
        )
        if new_status != status:
            transitions.append(Transition(new_status, point.kind, point.at, point.seq))
            status = new_status

    if status is None:
        status = CaseStatus.awaiting_routing
    mine = providers.get(current, _NO_PROVIDER) if current is not None else _NO_PROVIDER
    acceptance = mine.acceptance
    accepted_at = acceptance.at if acceptance is not None else None
    state_programme = _programme(mine, snapshot.pathway, accepted_at, rules)
    ended: Mark | datetime | None = {
        CaseStatus.withdrawn: snapshot.withdrawn,
        CaseStatus.declined_by_yju: snapshot.yju_declined,
        CaseStatus.completed: mine.completed,
        CaseStatus.closed_by_provider: mine.closed,
        CaseStatus.breach_decided: max((r.outcome_at for r in requests if r.outcome_at is not None), default=None),
    }.get(status)
    return CaseState(
        status=status,
        version=snapshot.version,
        pathway=snapshot.pathway,
        needs_yju=snapshot.needs_yju,
        provider_id=current,
        routed_at=routed_at,
        accepted_at=accepted_at,
        ended_at=ended.at if isinstance(ended, Mark) else ended,
        next_deadline_at=_next_deadline(status, state_programme),
        programme=state_programme,
        transitions=tuple(transitions),
        withdrawal_reason=snapshot.withdrawal_reason,
        closure_reason=mine.closure_reason if status is CaseStatus.closed_by_provider else None,
        rejected_by=tuple(sorted(snapshot.rejections, key=lambda provider: snapshot.rejections[provider])),
        answered_at=mine.accepted.at if mine.accepted is not None else None,
        breach_requests=tuple(sorted(requests, key=lambda r: (r.raised_at, str(r.id)))),
        warned_appointments=frozenset(appointment_id for _, appointment_id in snapshot.warnings),
        reminders_sent=snapshot.reminders_sent,
        warnings=tuple({"appointment_id": appointment_id, "issued_at": mark.at.isoformat()} for mark, appointment_id in snapshot.warnings),
        engagement=mine.engagement,
    )


def superseded(snapshot: CaseSnapshot, fact: Fact) -> bool:
    """Whether a later report about the same appointment corrected this one (the fold no longer counts it)."""
    if fact.kind not in APPOINTMENT_OUTCOME_KINDS or fact.provider_id is None:
        return False
    work = snapshot.providers.get(fact.provider_id, _NO_PROVIDER)
    return work.last_report.get(str(fact.data["appointment_id"]), fact.seq) > fact.seq


def _instant(value: str | datetime) -> datetime:
    # Data holds JSON (an RFC 3339 string); callers building facts by hand may pass a datetime.
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def _programme(
    work: ProviderWork, pathway: Pathway | None, accepted_at: datetime | None, rules: ProgrammeRules
) -> ProgrammeState:
    required = programme.requirements(pathway)
    appointments = sorted(
        work.appointments.values(),
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
        done=tuple(name for name in required if name in work.done),
        remaining=tuple(name for name in required if name not in work.done),
        appointments=tuple(appointments),
        next_appointment=booked[0] if booked else None,
        attended=sum(a.outcome is AppointmentStatus.attended for a in appointments),
        missed=missed,
        cancelled=sum(a.outcome is AppointmentStatus.cancelled for a in appointments),
        contact_attempts=work.contact_attempts,
        contacted=work.contacted,
        assessment_outcome=work.assessment_outcome,
        course_completed_at=work.completed.at if work.completed else None,
        engagement_refused_at=work.refused.at if work.refused else None,
        completion_due=programme.completion_due(pathway, accepted_at, rules) if can_have_deadlines else None,  # type: ignore[arg-type]
        assessment_due=programme.assessment_due(pathway, accepted_at, rules) if can_have_deadlines else None,  # type: ignore[arg-type]
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
