"""When non-engagement has a consequence: the breach rules, as data, and what is due.

The rules are the usual practice for community orders and out-of-court conditions
(docs/DOMAIN.md, "Practice elsewhere"), the same defaults for both pathways and
configurable per pathway:
- a first unacceptable missed appointment gives a warning; a second one within
  the programme raises a breach (acceptable and logistics absences never count);
- engagement.refused raises a breach at once;
- no successful contact after 3 attempts spread over at least 7 days raises one;
- no assessment by its deadline, or the programme not completed by its own,
  raises one (the deadlines are the programme's: see ``programme``);
- 2 working days before a deadline, a reminder goes to the provider and the police;
- the officer in the case reviews a raised request within 5 working days, or is reminded.
A provider's closure (moved away, in custody...) is never a breach. A correction that
removes the basis of a request the officer has not yet submitted withdraws it.

``assess`` is pure: the case's folded state and a clock in; what is due out,
most urgent first. The caller records the first, folds again and asks again.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from diversion_common.contracts import AbsenceCategory, CaseStatus, Deadline, NoticeKind, Pathway
from diversion_common.vocabulary import enum_of
from referral_api.lifecycle.breach_requests import BreachRule, BreachStatus, BreachWithdrawalReason
from referral_api.lifecycle.fold import Appointment, AppointmentStatus, BreachRequestState, CaseState, ProgrammeState
from referral_api.lifecycle.pathway import SCHEME_TIME_ZONE
from referral_api.lifecycle.programme import add_working_days, end_of_day, is_working_day, local_date


@dataclass(frozen=True)
class BreachRules:
    warning_after_unacceptable_misses: int = 1
    breach_after_unacceptable_misses: int = 2
    breach_on_refusal: bool = True
    no_contact_attempts: int = 3
    no_contact_over_days: int = 7
    breach_on_assessment_overdue: bool = True
    breach_on_completion_overdue: bool = True
    reminder_working_days_before: int = 2
    oic_review_working_days: int = 5


DEFAULT_BREACH_RULES: Mapping[Pathway, BreachRules] = {
    Pathway.adult_deferred_summons: BreachRules(),
    Pathway.youth_community_resolution: BreachRules(),
}

# The programme is running: rules about the person's engagement apply.
_ENGAGING = frozenset({CaseStatus.accepted_by_provider, CaseStatus.in_programme})


# What the rules may find due: a notice (warning, reminder), a breach request, or its withdrawal.
DueKind = enum_of("DueKind", *NoticeKind, module=__name__, withdraw="withdraw", breach="breach")


@dataclass(frozen=True)
class Due:
    kind: DueKind
    key: str  # unique within the case: the fact's source id, so it is recorded once
    rule: BreachRule | None = None
    evidence: tuple[Mapping[str, Any], ...] = ()
    appointment_id: str | None = None  # a warning's
    deadline: Deadline | None = None  # a reminder's or an overdue breach's
    due_at: datetime | None = None
    breach_request_id: uuid.UUID | None = None  # a withdrawal's, or an officer's review reminder's
    reason: BreachWithdrawalReason | None = None


@dataclass(frozen=True)
class _Trigger:
    at: datetime
    due: Due


@dataclass
class _View:
    """What the rules read about the current provider's work with the person."""

    state: CaseState
    rules: BreachRules
    unacceptable: list[Appointment] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.unacceptable = [
            a for a in self.state.programme.appointments
            if a.outcome is AppointmentStatus.missed and a.reason_category is AbsenceCategory.unacceptable
        ]


def rules_for(pathway: Pathway | None, table: Mapping[Pathway, BreachRules] = DEFAULT_BREACH_RULES) -> BreachRules:
    return table.get(pathway, BreachRules()) if pathway is not None else BreachRules()


def assess(state: CaseState, now: datetime, rules: BreachRules) -> list[Due]:
    """What is due now, most urgent first: withdrawals, a breach, warnings, reminders."""
    view = _View(state, rules)
    withdrawals = _withdrawals(view)
    if withdrawals:
        return withdrawals
    triggers = _triggers(view)
    due_now = [trigger.due for trigger in triggers if trigger.at <= now]
    breach = _event_breach(view) or next((d for d in due_now if d.kind is DueKind.breach), None)
    if breach is not None:
        return [breach]
    return [*_warnings(view), *(d for d in due_now if d.kind is DueKind.reminder)]


def next_check_at(state: CaseState, rules: BreachRules) -> datetime | None:
    """When a time-based rule next falls due (None: nothing will without a new fact)."""
    times = [trigger.at for trigger in _triggers(_View(state, rules))]
    return min(times) if times else None


def review_due(raised_at: datetime, rules: BreachRules) -> datetime:
    return end_of_day(add_working_days(local_date(raised_at), rules.oic_review_working_days))


def review_overdue(request: BreachRequestState, now: datetime) -> bool:
    return request.status is BreachStatus.pending_oic_review and request.review_due_at is not None and now > request.review_due_at


# --- rules fired by a fact -------------------------------------------------------------


def _raised(state: CaseState, key: str) -> bool:
    return any(request.basis_key == key for request in state.breach_requests)


def _event_breach(view: _View) -> Due | None:
    state = view.state
    if state.open_breach_request is not None or state.pathway is None:
        return None
    for rule in FACT_RULES:
        if state.status not in rule.watches or not rule.enabled(view.rules):
            continue
        basis = rule.basis(view, None)
        if basis is not None and not _raised(state, basis.key):
            return Due(DueKind.breach, basis.key, rule.rule, basis.evidence)
    return None


def _no_contact(view: _View) -> bool:
    programme = view.state.programme
    return not programme.contacted and programme.attended == 0


def _warnings(view: _View) -> list[Due]:
    state, rules = view.state, view.rules
    if state.status not in _ENGAGING or state.open_breach_request is not None:
        return []
    misses = view.unacceptable
    if not (rules.warning_after_unacceptable_misses <= len(misses) < rules.breach_after_unacceptable_misses):
        return []
    first = misses[rules.warning_after_unacceptable_misses - 1]
    if first.appointment_id in state.warned_appointments:
        return []
    return [Due(DueKind.warning, f"warning:{first.appointment_id}", BreachRule.missed_appointments, _missed_evidence(view), appointment_id=first.appointment_id)]


def _withdrawals(view: _View) -> list[Due]:
    state = view.state
    out: list[Due] = []
    for request in state.breach_requests:
        if not request.open:
            continue
        if state.status is CaseStatus.withdrawn:
            out.append(Due(DueKind.withdraw, f"withdraw:{request.id}", request.rule, breach_request_id=request.id, reason=BreachWithdrawalReason.referral_withdrawn))
        elif request.status is BreachStatus.pending_oic_review and not _basis_holds(view, request):
            out.append(Due(DueKind.withdraw, f"withdraw:{request.id}", request.rule, breach_request_id=request.id, reason=BreachWithdrawalReason.basis_corrected))
    return out


def _basis_holds(view: _View, request: BreachRequestState) -> bool:
    """Asked of the rule that raised it, with the deadline it was raised on: never written again."""
    return RULES[request.rule].basis(view, _instant(request.deadlines.get("due_at"))) is not None


# --- rules fired by the clock ------------------------------------------------------------


def _triggers(view: _View) -> list[_Trigger]:
    state, rules = view.state, view.rules
    triggers: list[_Trigger] = []
    for request in state.breach_requests:
        if request.status is BreachStatus.pending_oic_review and request.review_due_at is not None:
            key = f"reminder:{Deadline.oic_review.value}:{request.id}"
            if key not in state.reminders_sent:
                triggers.append(_Trigger(request.review_due_at, Due(DueKind.reminder, key, request.rule, deadline=Deadline.oic_review, due_at=request.review_due_at, breach_request_id=request.id)))
    if state.status not in _ENGAGING or state.open_breach_request is not None:
        return triggers
    programme = state.programme
    for rule in CLOCK_RULES:
        assert rule.deadline is not None and rule.due is not None and rule.done is not None
        due_at = rule.due(programme)
        if due_at is None or rule.done(state) is not None:
            continue
        reminder_key = f"reminder:{rule.deadline.value}:{due_at.isoformat()}"
        if reminder_key not in state.reminders_sent:
            remind_at = _start_of_day(_working_days_before(local_date(due_at), rules.reminder_working_days_before))
            triggers.append(_Trigger(remind_at, Due(DueKind.reminder, reminder_key, deadline=rule.deadline, due_at=due_at)))
        basis = rule.basis(view, due_at) if rule.enabled(rules) else None
        if basis is not None and not _raised(state, basis.key):
            # Overdue once the deadline's last second has passed: the whole deadline day is the person's.
            triggers.append(_Trigger(due_at + _PAST, Due(DueKind.breach, basis.key, rule.rule, basis.evidence, deadline=rule.deadline, due_at=due_at)))
    return triggers


_PAST = timedelta(seconds=1)


def _working_days_before(day: date, n: int) -> date:
    while n:
        day -= timedelta(days=1)
        if is_working_day(day):
            n -= 1
    return day


def _start_of_day(day: date) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=SCHEME_TIME_ZONE).astimezone(UTC)


def _instant(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


# --- evidence: what the court or YJU sees of why -----------------------------------------


def _missed_evidence(view: _View) -> tuple[dict[str, Any], ...]:
    return tuple(_appointment_evidence(a) for a in view.unacceptable)


def _appointment_evidence(appointment: Appointment) -> dict[str, Any]:
    return {
        "fact": f"appointment.{appointment.outcome.value}",
        "appointment_id": appointment.appointment_id,
        "kind": appointment.kind.value if appointment.kind else None,
        "starts_at": appointment.starts_at.isoformat() if appointment.starts_at else None,
        "outcome": appointment.outcome.value,
        "reason_category": appointment.reason_category.value if appointment.reason_category else None,
        "occurred_at": appointment.updated_at.isoformat(),
        "reported_by": "provider",
    }


def _deadline_evidence(deadline: Deadline, due_at: datetime, remaining: Sequence[str]) -> dict[str, Any]:
    return {"fact": "deadline.passed", "deadline": deadline.value, "due_at": due_at.isoformat(), "remaining": list(remaining), "reported_by": "referral_api"}


def attendance_record(state: CaseState) -> list[dict[str, Any]]:
    """Every appointment with the current provider: dates, kinds, outcomes, missed reason categories."""
    return [_appointment_evidence(a) for a in state.programme.appointments]


def warning_history(state: CaseState) -> list[dict[str, Any]]:
    return [dict(warning) for warning in state.warnings]


# --- the rules, one object each ----------------------------------------------------------


@dataclass(frozen=True)
class Basis:
    """What a breach request is raised on: its key (the same basis never raises a second request)
    and the facts it cites as evidence."""

    key: str
    evidence: tuple[Mapping[str, Any], ...]


@dataclass(frozen=True)
class Rule:
    """One breach rule: when it fires (the statuses it watches, the setting that enables it) and the
    basis it finds, citing its facts. Whether a raised request's basis still holds is ``basis``
    asked again, with the deadline the request was raised on."""

    rule: BreachRule
    watches: frozenset[CaseStatus]
    enabled: Callable[[BreachRules], bool]
    basis: Callable[[_View, datetime | None], Basis | None]  # the second argument: a deadline's due time
    deadline: Deadline | None = None  # a rule fired by the clock: its deadline,
    due: Callable[[ProgrammeState], datetime | None] | None = None  # when it falls due,
    done: Callable[[CaseState], datetime | None] | None = None  # and when what it asks for was first done


def _refusal(view: _View, _due: datetime | None) -> Basis | None:
    if view.state.programme.engagement_refused_at is None:
        return None
    return Basis(BreachRule.engagement_refused.value, view.state.engagement.refusals)


def _misses(view: _View, _due: datetime | None) -> Basis | None:
    if len(view.unacceptable) < view.rules.breach_after_unacceptable_misses:
        return None
    return Basis(f"{BreachRule.missed_appointments.value}:{view.unacceptable[-1].appointment_id}", _missed_evidence(view))


def _silence(view: _View, _due: datetime | None) -> Basis | None:
    engagement, attempts = view.state.engagement, view.state.programme.contact_attempts
    if not _no_contact(view) or attempts < view.rules.no_contact_attempts:
        return None
    assert engagement.first_attempt_at is not None and engagement.last_attempt_at is not None
    if engagement.last_attempt_at - engagement.first_attempt_at < timedelta(days=view.rules.no_contact_over_days):
        return None
    return Basis(f"{BreachRule.no_contact.value}:{attempts}", engagement.unanswered_attempts)


def _overdue(rule: BreachRule, deadline: Deadline, due: Callable[[ProgrammeState], datetime | None],
             done: Callable[[CaseState], datetime | None]) -> Rule:
    def basis(view: _View, due_at: datetime | None) -> Basis | None:
        programme = view.state.programme
        due_at = due_at or due(programme)
        done_at = done(view.state)
        if due_at is None or (done_at is not None and done_at <= due_at):
            return None
        evidence = (_deadline_evidence(deadline, due_at, programme.remaining), *(_appointment_evidence(a) for a in programme.appointments))
        return Basis(f"{rule.value}:{due_at.isoformat()}", evidence)

    enabled = {
        BreachRule.assessment_overdue: lambda rules: rules.breach_on_assessment_overdue,
        BreachRule.completion_overdue: lambda rules: rules.breach_on_completion_overdue,
    }[rule]
    return Rule(rule, _ENGAGING, enabled, basis, deadline, due, done)


# Fired by a fact, tried in this order.
FACT_RULES = (
    Rule(BreachRule.engagement_refused, frozenset({CaseStatus.engagement_refused}), lambda rules: rules.breach_on_refusal, _refusal),
    Rule(BreachRule.missed_appointments, _ENGAGING, lambda rules: True, _misses),
    Rule(BreachRule.no_contact, _ENGAGING, lambda rules: True, _silence),
)
# Fired by the clock.
CLOCK_RULES = (
    _overdue(BreachRule.assessment_overdue, Deadline.assessment, lambda p: p.assessment_due, lambda s: s.engagement.assessed_at),
    _overdue(BreachRule.completion_overdue, Deadline.completion, lambda p: p.completion_due, lambda s: s.programme.course_completed_at),
)
RULES: Mapping[BreachRule, Rule] = {rule.rule: rule for rule in (*FACT_RULES, *CLOCK_RULES)}
