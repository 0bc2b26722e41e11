"""The breach rules (lifecycle/enforcement.py) over synthetic case logs and a clock. No database.

``settle`` records what is due as the service does (breaches/enforcement.py): the first due
thing becomes a fact, the log is folded again and asked again, until nothing is due.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from diversion_common.contracts import CaseStatus, Deadline
from referral_api.lifecycle.breach_requests import BreachRule, BreachStatus, BreachWithdrawalReason
from referral_api.lifecycle.enforcement import (
    BreachRules,
    Due,
    DueKind,
    assess,
    next_check_at,
    review_due,
    review_overdue,
    rules_for,
)
from referral_api.lifecycle.facts import RULES_SOURCE, FactKind, fact_evidence, police_source
from support.case_log import ADULT, POLICE, T0, YOUTH, CaseLog, at

NOTE = "SYNTHETIC-NOTE: said they were unwell"
RULES = BreachRules()


def accepted(pathway=ADULT) -> CaseLog:
    log = CaseLog(pathway, needs_yju=pathway is YOUTH)
    if pathway is YOUTH:
        log.yju(at(0.5), "divert")
    log.routed(at(1))
    log.event("referral.accepted", at(2))
    return log


def miss(log: CaseLog, appointment_id: str, hours: float, category: str = "unacceptable") -> None:
    log.book(appointment_id, at(hours), at(hours + 24))
    log.event("appointment.missed", at(hours + 25), appointment_id=appointment_id, reason_category=category, note=NOTE)


def due_now(log: CaseLog, now: datetime) -> list[Due]:
    state = log.state()
    return assess(state, now, rules_for(state.pathway))


def settle(log: CaseLog, now: datetime) -> list[Due]:
    """Record everything due at ``now`` as the service would; what was recorded, in order."""
    recorded: list[Due] = []
    for _ in range(10):
        dues = due_now(log, now)
        if not dues:
            return recorded
        due = dues[0]
        recorded.append(due)
        if due.kind is DueKind.breach:
            log.add(FactKind.breach_raised, now, RULES_SOURCE, {
                "breach_request_id": str(uuid.uuid4()), "rule": due.rule.value, "basis_key": due.key,
                "addressee": "court", "court": "reading-magistrates", "evidence": list(due.evidence),
                "deadlines": {"due_at": due.due_at.isoformat() if due.due_at else None},
                "review_due_at": review_due(now, RULES).isoformat(),
            }, source_id=due.key)
        elif due.kind is DueKind.withdraw:
            log.add(FactKind.breach_withdrawn, now, RULES_SOURCE, {"breach_request_id": str(due.breach_request_id), "reason": due.reason.value}, source_id=due.key)
        elif due.kind is DueKind.warning:
            log.add(FactKind.warning_issued, now, RULES_SOURCE, {"appointment_id": due.appointment_id}, source_id=due.key)
        else:
            log.add(FactKind.reminder_sent, now, RULES_SOURCE, {"key": due.key, "deadline": due.deadline.value}, source_id=due.key)
    raise AssertionError("the rules never settle")


def kinds(dues: list[Due]) -> list[tuple[DueKind, BreachRule | None]]:
    return [(d.kind, d.rule) for d in dues]


# --- missed appointments ------------------------------------------------------------------


def test_a_first_unacceptable_miss_warns_and_a_second_raises_a_breach():
    log = accepted()
    miss(log, "a-1", 3)
    assert kinds(settle(log, at(40))) == [(DueKind.warning, BreachRule.missed_appointments)]
    assert log.state().warned_appointments == {"a-1"}
    assert settle(log, at(41)) == []  # warned once, not again

    miss(log, "a-2", 50)
    (breach,) = settle(log, at(90))
    assert (breach.kind, breach.rule) == (DueKind.breach, BreachRule.missed_appointments)
    assert [e["appointment_id"] for e in breach.evidence] == ["a-1", "a-2"]
    state = log.state()
    assert state.status is CaseStatus.breach_requested
    assert state.open_breach_request.status is BreachStatus.pending_oic_review


@pytest.mark.parametrize("category", ["acceptable", "logistics"])
def test_acceptable_and_logistics_absences_never_count(category):
    log = accepted()
    for n in range(4):
        miss(log, f"a-{n}", 3 + 30 * n, category)
    assert settle(log, at(200)) == []
    assert log.state().breach_requests == () and not log.state().warned_appointments


def test_the_evidence_holds_codes_and_dates_never_the_providers_note():
    log = accepted()
    miss(log, "a-1", 3)
    miss(log, "a-2", 50)
    dues = settle(log, at(90))
    assert NOTE not in repr(dues)
    evidence = dues[-1].evidence[0]
    assert evidence["reason_category"] == "unacceptable" and evidence["kind"] == "assessment"
    assert evidence["starts_at"] == at(27).isoformat()


def test_an_assessment_is_evidence_that_it_happened_never_of_its_result():
    log = accepted()
    fact = log.event("assessment.completed", at(3), outcome="suitable_for_programme")
    evidence = fact_evidence(fact)
    assert evidence["fact"] == "assessment.completed" and evidence["occurred_at"] == at(3).isoformat()
    assert "outcome" not in evidence and "suitable_for_programme" not in repr(evidence)


# --- refusal, closure, contact ------------------------------------------------------------


def test_refusal_raises_a_breach_at_once():
    log = accepted()
    log.event("engagement.refused", at(3), note=NOTE)
    (breach,) = settle(log, at(4))
    assert breach.rule is BreachRule.engagement_refused
    assert breach.evidence[0]["fact"] == "engagement.refused" and NOTE not in repr(breach)


def test_a_providers_closure_is_never_a_breach():
    log = accepted()
    miss(log, "a-1", 3)
    settle(log, at(40))
    log.event("case.closed_by_provider", at(41), reason="moved_away")
    assert settle(log, at(24 * 400)) == []
    assert next_check_at(log.state(), RULES) is None


def test_no_contact_after_three_attempts_over_seven_days_raises_a_breach():
    log = accepted()
    for day in (0, 3, 7):
        log.event("contact.attempted", at(3 + 24 * day), method="phone", outcome="no_answer")
    (breach,) = settle(log, at(3 + 24 * 7 + 1))
    assert breach.rule is BreachRule.no_contact and len(breach.evidence) == 3


def test_three_attempts_in_under_seven_days_or_a_successful_contact_is_not_enough():
    quick = accepted()
    for day in (0, 1, 2):
        quick.event("contact.attempted", at(3 + 24 * day), method="phone", outcome="no_answer")
    assert settle(quick, at(80)) == []

    reached = accepted()
    reached.event("contact.attempted", at(3), method="phone", outcome="reached")
    for day in (3, 7, 8):
        reached.event("contact.attempted", at(3 + 24 * day), method="phone", outcome="no_answer")
    assert [d.rule for d in settle(reached, at(24 * 9))] == []


# --- deadlines and reminders, by the clock ------------------------------------------------


def test_a_young_persons_assessment_is_reminded_two_working_days_before_then_breached_after_its_deadline():
    log = accepted(YOUTH)
    due = log.state().programme.assessment_due
    assert due == datetime(2026, 11, 16, 23, 59, 59, tzinfo=UTC)  # 10 working days after Mon 2 Nov
    remind_at = datetime(2026, 11, 12, 0, 0, tzinfo=UTC)  # Thursday: two working days before Monday
    assert next_check_at(log.state(), RULES) == remind_at

    assert settle(log, remind_at - timedelta(seconds=1)) == []
    (reminder,) = settle(log, remind_at)
    assert (reminder.kind, reminder.deadline, reminder.due_at) == (DueKind.reminder, Deadline.assessment, due)
    assert settle(log, due) == []  # the whole deadline day is the person's
    (breach,) = settle(log, due + timedelta(seconds=1))
    assert (breach.rule, breach.deadline) == (BreachRule.assessment_overdue, Deadline.assessment)
    assert breach.evidence[0]["fact"] == "deadline.passed"


def test_an_assessment_done_in_time_clears_its_deadline_and_the_next_check_is_the_completion_reminder():
    log = accepted()
    log.book("a-1", at(3), at(24))
    log.event("appointment.attended", at(25), appointment_id="a-1", punctuality="on_time")
    log.event("assessment.completed", at(26), outcome="suitable_for_programme")
    state = log.state()
    check = next_check_at(state, RULES)
    assert check is not None and check < state.programme.completion_due
    assert state.programme.completion_due - check < timedelta(days=5)
    assert all(d.deadline is Deadline.completion for d in settle(log, state.programme.completion_due + timedelta(seconds=1)) if d.deadline)


def test_an_adults_programme_not_completed_in_sixteen_weeks_is_a_breach():
    log = accepted()
    log.book("a-1", at(3), at(24))
    log.event("appointment.attended", at(25), appointment_id="a-1", punctuality="on_time")
    log.event("assessment.completed", at(26), outcome="suitable_for_programme")
    due = log.state().programme.completion_due
    assert (due - at(2)).days in (111, 112)  # 16 weeks from acceptance, to the end of that day
    dues = settle(log, due + timedelta(seconds=1))
    assert kinds(dues)[-1] == (DueKind.breach, BreachRule.completion_overdue)


def test_the_officers_review_is_reminded_once_after_five_working_days():
    log = accepted()
    log.event("engagement.refused", at(3))
    settle(log, at(4))
    request = log.state().open_breach_request
    assert request.review_due_at == datetime(2026, 11, 9, 23, 59, 59, tzinfo=UTC)  # Mon 2 Nov + 5 working days
    assert not review_overdue(request, request.review_due_at)
    assert review_overdue(request, request.review_due_at + timedelta(seconds=1))
    (reminder,) = settle(log, request.review_due_at + timedelta(hours=1))
    assert (reminder.deadline, reminder.breach_request_id) == (Deadline.oic_review, request.id)
    assert settle(log, request.review_due_at + timedelta(days=3)) == []


# --- withdrawals ----------------------------------------------------------------------------


def test_a_correction_removing_the_basis_withdraws_a_request_not_yet_submitted():
    log = accepted()
    miss(log, "a-1", 3)
    miss(log, "a-2", 50)
    settle(log, at(90))
    log.event("appointment.attended", at(75), appointment_id="a-2", punctuality="late")  # the provider corrects its report
    withdrawal, *rest = settle(log, at(91))
    assert (withdrawal.kind, withdrawal.reason) == (DueKind.withdraw, BreachWithdrawalReason.basis_corrected)
    # a-1 is now the one unacceptable miss, and it was never warned about: the warning follows
    assert [(d.kind, d.appointment_id) for d in rest] == [(DueKind.warning, "a-1")]
    state = log.state()
    assert state.breach_requests[0].status is BreachStatus.withdrawn
    assert state.status is CaseStatus.in_programme


def test_a_correction_after_submission_leaves_the_request_for_the_court_to_weigh():
    log = accepted()
    miss(log, "a-1", 3)
    miss(log, "a-2", 50)
    settle(log, at(90))
    request = log.state().open_breach_request
    log.add(FactKind.breach_submitted, at(92), police_source(POLICE), {"breach_request_id": str(request.id)})
    log.event("appointment.attended", at(75), appointment_id="a-2", punctuality="late")
    assert settle(log, at(93)) == []
    assert log.state().open_breach_request.status is BreachStatus.submitted


def test_the_police_withdrawing_the_referral_withdraws_its_open_request():
    log = accepted()
    log.event("engagement.refused", at(3))
    settle(log, at(4))
    log.withdrew(at(5))
    (withdrawal,) = settle(log, at(6))
    assert withdrawal.reason is BreachWithdrawalReason.referral_withdrawn
    assert log.state().status is CaseStatus.withdrawn


def test_rules_are_per_pathway_data():
    lenient = BreachRules(breach_after_unacceptable_misses=3, breach_on_refusal=False)
    log = accepted()
    miss(log, "a-1", 3)
    miss(log, "a-2", 50)
    state = log.state()
    assert [d.kind for d in assess(state, at(90), lenient)] == [DueKind.warning]
    assert rules_for(ADULT) == rules_for(YOUTH) == BreachRules()


# --- properties -------------------------------------------------------------------------------

_CATEGORIES = st.sampled_from(["unacceptable", "acceptable", "logistics"])


@settings(max_examples=60, deadline=None)
@given(st.lists(_CATEGORIES, max_size=6), st.permutations(range(6)))
def test_one_breach_at_most_however_misses_arrive(categories, order):
    """Misses reported in any order: a breach iff two are unacceptable; never two requests."""
    log = accepted()
    for n in [i for i in order if i < len(categories)]:
        miss(log, f"a-{n}", 3 + 30 * n, categories[n])
    settle(log, at(24 * 30))
    state = log.state()
    unacceptable = categories.count("unacceptable")
    assert len(state.breach_requests) == (1 if unacceptable >= 2 else 0)
    assert len([f for f in log.facts if f.kind is FactKind.warning_issued]) <= 1
    assert settle(log, at(24 * 30)) == []  # settled: asking again records nothing


# --- one object per rule: the basis that raises a request is the basis that keeps it ---------


def test_every_breach_rule_is_one_object_in_the_table():
    from referral_api.lifecycle.enforcement import CLOCK_RULES, FACT_RULES, RULES

    assert set(RULES) == set(BreachRule)
    assert len(FACT_RULES) + len(CLOCK_RULES) == len(BreachRule)


def test_a_raised_requests_key_and_evidence_are_its_rules_basis_and_it_stands_while_the_basis_does():
    from referral_api.lifecycle.enforcement import RULES, _View

    log = accepted()
    miss(log, "a-1", 3)
    miss(log, "a-2", 50)
    settle(log, at(90))
    state = log.state()
    request = state.open_breach_request
    basis = RULES[request.rule].basis(_View(state, RULES_FOR_ADULT), None)
    assert (request.basis_key, request.evidence) == (basis.key, basis.evidence)
    log.event("appointment.missed", at(91), appointment_id="a-1", reason_category="acceptable")  # the basis goes
    assert RULES[request.rule].basis(_View(log.state(), RULES_FOR_ADULT), None) is None
    assert [d.kind for d in settle(log, at(92))][0] is DueKind.withdraw


def test_a_programme_completed_after_its_deadline_keeps_the_request_one_completed_in_time_withdraws_it():
    def overdue() -> tuple[CaseLog, datetime]:
        log = accepted()
        log.book("a-1", at(3), at(24))
        log.event("appointment.attended", at(25), appointment_id="a-1", punctuality="on_time")
        log.event("assessment.completed", at(26), outcome="suitable_for_programme")
        due = log.state().programme.completion_due
        settle(log, due + timedelta(seconds=1))
        assert log.state().open_breach_request.rule is BreachRule.completion_overdue
        return log, due

    late, due = overdue()
    late.event("course.completed", due + timedelta(hours=2))
    assert settle(late, due + timedelta(hours=3)) == [] and late.state().open_breach_request is not None

    corrected, due = overdue()
    corrected.event("course.completed", due - timedelta(days=1))  # reported late: it was done in time
    assert [d.reason for d in settle(corrected, due + timedelta(hours=3))] == [BreachWithdrawalReason.basis_corrected]


RULES_FOR_ADULT = rules_for(ADULT)
