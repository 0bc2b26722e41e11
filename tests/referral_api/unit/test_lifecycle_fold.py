"""The case fold: status precedence, programmes, corrections, deadlines, history. No database."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from diversion_common.contracts import AbsenceCategory, AssessmentOutcome, CaseStatus, ProviderClosureReason
from referral_api.lifecycle import (
    GATEWAY_SOURCE,
    AppointmentStatus,
    Fact,
    FactKind,
    ProgrammeRules,
    add_working_days,
    fold,
    ordered,
    police_source,
)
from referral_api.lifecycle.pathway import needs_yju, pathway_for
from referral_api.lifecycle.status import PRECEDENCE, Signals, derive_status
from support.case_log import ADULT, P1, P2, POLICE, T0, YOUTH, CaseLog, at



def london_end_of_day(day: date, utc_offset_hours: int) -> datetime:
    return datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=UTC) - timedelta(hours=utc_offset_hours)


# --- status precedence --------------------------------------------------------------


@pytest.mark.parametrize("index", range(len(PRECEDENCE)))
def test_each_status_beats_every_one_below_it(index):
    name, status = PRECEDENCE[index]
    below = {lower: True for lower, _ in PRECEDENCE[index:]}
    assert derive_status(Signals(**below)) is status
    assert derive_status(Signals()) is CaseStatus.awaiting_routing


def test_intake_statuses():
    assert CaseLog().state().status is CaseStatus.awaiting_routing
    waiting = CaseLog(YOUTH, needs_yju=True)
    assert waiting.state().status is CaseStatus.awaiting_yju_decision
    waiting.yju(at(1), "divert")
    assert waiting.state().status is CaseStatus.awaiting_routing
    declined = CaseLog(YOUTH, needs_yju=True)
    declined.yju(at(1), "decline")
    state = declined.state()
    assert (state.status, state.ended_at) == (CaseStatus.declined_by_yju, at(1))


def test_routing_statuses_follow_the_latest_routing_fact():
    log = CaseLog()
    log.unroutable(at(1))
    assert log.state().status is CaseStatus.unroutable
    log.routed(at(2))
    assert (log.state().status, log.state().provider_id) == (CaseStatus.routed, P1)
    log.unroutable(at(3))
    assert (log.state().status, log.state().provider_id) == (CaseStatus.unroutable, None)


@pytest.mark.parametrize(
    ("type_", "data", "expected"),
    [
        ("referral.accepted", {}, CaseStatus.accepted_by_provider),
        ("contact.attempted", {"method": "phone", "outcome": "no_answer"}, CaseStatus.accepted_by_provider),
        ("contact.attempted", {"method": "sms", "outcome": "reached"}, CaseStatus.in_programme),
        ("engagement.refused", {"note": "synthetic"}, CaseStatus.engagement_refused),
        ("case.closed_by_provider", {"reason": "moved_away"}, CaseStatus.closed_by_provider),
        ("course.completed", {}, CaseStatus.completed),
    ],
)
def test_provider_statuses(type_, data, expected):
    log = CaseLog()
    log.routed(at(1))
    log.event(type_, at(2), **data)
    assert log.state().status is expected


def test_withdrawal_beats_everything_and_records_its_reason():
    log = CaseLog()
    log.routed(at(1))
    log.event("course.completed", at(2))
    log.withdrew(at(3), reason="not_in_public_interest")
    state = log.state()
    assert (state.status, state.ended_at, state.withdrawal_reason) == (CaseStatus.withdrawn, at(3), "not_in_public_interest")
    assert state.next_deadline_at is None


def test_completion_beats_a_later_closure_and_refusal():
    log = CaseLog()
    log.routed(at(1))
    log.event("course.completed", at(2))
    log.event("case.closed_by_provider", at(3), reason="moved_away")
    log.event("engagement.refused", at(4))
    assert (log.state().status, log.state().ended_at) == (CaseStatus.completed, at(2))


def test_closure_records_its_coded_reason():
    log = CaseLog()
    log.routed(at(1))
    log.event("case.closed_by_provider", at(2), reason="in_custody", note="synthetic note")
    state = log.state()
    assert (state.status, state.closure_reason, state.ended_at) == (
        CaseStatus.closed_by_provider,
        ProviderClosureReason.in_custody,
        at(2),
    )


# --- whole programmes -----------------------------------------------------------------


def test_a_whole_adult_programme_to_completion():
    log = CaseLog()
    log.routed(at(1))
    log.event("referral.accepted", at(2))
    log.event("contact.attempted", at(3), method="phone", outcome="reached")
    log.book("a-1", at(4), at(72), out_of_hours=True)
    log.event("appointment.attended", at(73), appointment_id="a-1", punctuality="late")
    log.event("assessment.completed", at(74), outcome="suitable_for_programme")
    log.event("intervention.completed", at(200), intervention="online_intervention_1")
    log.event("intervention.completed", at(400), intervention="online_intervention_2")
    log.book("f-1", at(401), at(600), kind="follow_up", mode="phone")
    log.event("appointment.attended", at(601), appointment_id="f-1")
    log.event("intervention.completed", at(602), intervention="follow_up")
    log.event("course.completed", at(603))
    state = log.state()

    assert state.status is CaseStatus.completed
    assert (state.version, state.pathway, state.accepted_at, state.ended_at) == (13, ADULT, at(2), at(603))
    programme = state.programme
    assert programme.done == ("assessment", "online_intervention_1", "online_intervention_2", "follow_up")
    assert programme.remaining == ()
    assert (programme.attended, programme.cancelled, programme.contact_attempts, programme.contacted) == (2, 0, 1, True)
    assert programme.missed == {AbsenceCategory.acceptable: 0, AbsenceCategory.unacceptable: 0, AbsenceCategory.logistics: 0}
    assert programme.assessment_outcome is AssessmentOutcome.suitable_for_programme
    assert programme.course_completed_at == at(603)
    assert programme.next_appointment is None
    first = programme.appointments[0]
    assert (first.appointment_id, first.outcome, first.out_of_hours, first.punctuality) == (
        "a-1",
        AppointmentStatus.attended,
        True,
        "late",
    )
    assert state.next_deadline_at is None
    assert [(t.status, t.kind) for t in state.transitions] == [
        (CaseStatus.awaiting_routing, FactKind.referral_received),
        (CaseStatus.routed, FactKind.routed),
        (CaseStatus.accepted_by_provider, FactKind.referral_accepted),
        (CaseStatus.in_programme, FactKind.contact_attempted),
        (CaseStatus.completed, FactKind.course_completed),
    ]
    assert [t.seq for t in state.transitions] == [1, 2, 3, 4, 13]


def test_a_whole_youth_programme_of_six_sessions_to_completion():
    log = CaseLog(YOUTH)
    log.routed(at(1))
    log.event("referral.accepted", at(2))
    log.book("a-1", at(3), at(48))
    log.event("appointment.attended", at(49), appointment_id="a-1")
    state = log.state()
    # Attending the assessment appointment is not the assessment: only its completion is.
    assert state.programme.done == ()
    log.event("assessment.completed", at(50), outcome="referred_to_treatment")
    for number in range(1, 7):
        week = 168 * number
        log.book(f"s-{number}", at(week), at(week + 24), kind="session")
        log.event("appointment.attended", at(week + 25), appointment_id=f"s-{number}")
        assert log.state().programme.remaining[0] == f"session_{number}"
        log.event("intervention.completed", at(week + 26), intervention="session", session_number=number)
    assert log.state().status is CaseStatus.in_programme
    log.event("course.completed", at(2000))
    state = log.state()
    assert state.status is CaseStatus.completed
    assert state.programme.done == ("assessment", *(f"session_{n}" for n in range(1, 7)))
    assert (state.programme.remaining, state.programme.attended) == ((), 7)
    assert state.programme.assessment_outcome is AssessmentOutcome.referred_to_treatment


def test_an_intervention_outside_the_pathway_fulfils_nothing():
    log = CaseLog(ADULT)
    log.routed(at(1))
    log.event("intervention.completed", at(2), intervention="session", session_number=1)
    assert log.state().programme.done == ()


# --- corrections and rescheduling --------------------------------------------------------


def test_a_later_outcome_corrects_an_earlier_one():
    log = CaseLog()
    log.routed(at(1))
    log.book("a-1", at(2), at(24))
    log.event("appointment.missed", at(25), appointment_id="a-1", reason_category="unacceptable", note="synthetic")
    log.event("appointment.attended", at(26), appointment_id="a-1")
    programme = log.state().programme
    assert programme.attended == 1
    assert sum(programme.missed.values()) == 0
    assert programme.appointments[0].reason_category is None


def test_the_later_report_about_an_appointment_is_the_correction_whatever_its_time():
    # Noted as missed at 10:30; corrected to attended at the appointment's own time, 10:00.
    log = CaseLog()
    log.routed(at(1))
    log.book("a-1", at(2), at(24))
    log.event("appointment.missed", at(25), appointment_id="a-1", reason_category="unacceptable")
    log.event("appointment.attended", at(24), appointment_id="a-1")
    programme = log.state().programme
    assert (programme.attended, programme.missed[AbsenceCategory.unacceptable]) == (1, 0)


def test_a_booking_reported_after_an_attendance_does_not_erase_it():
    log = CaseLog()
    log.routed(at(1))
    log.book("a-1", at(2), at(24))
    log.event("appointment.attended", at(24), appointment_id="a-1")
    log.book("a-1", at(25), at(30))
    programme = log.state().programme
    assert programme.attended == 1 and programme.next_appointment is None


def test_booking_again_reschedules_and_the_next_appointment_follows():
    log = CaseLog()
    log.routed(at(1))
    log.book("a-1", at(2), at(48))
    log.book("a-2", at(3), at(100), kind="intervention", mode="online")
    assert log.state().programme.next_appointment.appointment_id == "a-1"
    log.book("a-1", at(4), at(120), mode="video")
    programme = log.state().programme
    assert len(programme.appointments) == 2
    assert programme.next_appointment.appointment_id == "a-2"
    moved = next(a for a in programme.appointments if a.appointment_id == "a-1")
    assert (moved.starts_at, moved.mode, moved.booked_at, moved.outcome) == (at(120), "video", at(4), AppointmentStatus.booked)


def test_cancelled_then_rebooked_counts_as_booked():
    log = CaseLog()
    log.routed(at(1))
    log.book("a-1", at(2), at(48))
    log.event("appointment.cancelled", at(3), appointment_id="a-1", cancelled_by="person", reason="synthetic")
    assert (log.state().programme.cancelled, log.state().programme.next_appointment) == (1, None)
    log.book("a-1", at(4), at(72))
    programme = log.state().programme
    assert programme.cancelled == 0
    assert programme.next_appointment.starts_at == at(72)


def test_missed_counts_by_category():
    log = CaseLog()
    log.routed(at(1))
    for n, category in enumerate(["acceptable", "unacceptable", "unacceptable", "logistics"], start=1):
        log.book(f"a-{n}", at(n), at(100 + n))
        log.event("appointment.missed", at(200 + n), appointment_id=f"a-{n}", reason_category=category)
    assert log.state().programme.missed == {"acceptable": 1, "unacceptable": 2, "logistics": 1}


# --- deadlines ---------------------------------------------------------------------------


def test_working_days_skip_weekends_and_christmas_bank_holidays():
    # 2026: Christmas is a Friday, Boxing Day a Saturday, so Monday 28 Dec is its substitute.
    assert add_working_days(date(2026, 12, 18), 10) == date(2027, 1, 6)
    assert add_working_days(date(2026, 12, 24), 1) == date(2026, 12, 29)
    assert add_working_days(date(2026, 12, 19), 0) == date(2026, 12, 19)
    assert add_working_days(date(2026, 11, 6), 1) == date(2026, 11, 9)  # Friday to Monday
    with pytest.raises(ValueError):
        add_working_days(date(2026, 11, 6), -1)


def test_adult_completion_is_due_sixteen_weeks_after_acceptance():
    log = CaseLog()
    log.routed(at(1))
    log.event("referral.accepted", at(2))  # Monday 2 Nov 2026, 11:00 UTC
    state = log.state()
    assert state.programme.completion_due == london_end_of_day(date(2027, 2, 22), 0)
    assert state.programme.assessment_due is None
    assert state.next_deadline_at == state.programme.completion_due


def test_deadlines_end_the_due_day_in_london_summer_time():
    log = CaseLog(when=datetime(2026, 6, 1, 8, tzinfo=UTC))
    log.routed(datetime(2026, 6, 1, 9, tzinfo=UTC))
    log.event("referral.accepted", datetime(2026, 5, 31, 23, 30, tzinfo=UTC))  # already 1 June in London
    assert log.state().programme.completion_due == london_end_of_day(date(2026, 9, 21), 1)


def test_youth_assessment_is_due_ten_working_days_after_acceptance():
    accepted = datetime(2026, 12, 18, 10, tzinfo=UTC)  # a Friday
    log = CaseLog(YOUTH, when=accepted - timedelta(hours=2))
    log.routed(accepted - timedelta(hours=1))
    log.event("referral.accepted", accepted)
    state = log.state()
    assert state.programme.assessment_due == london_end_of_day(date(2027, 1, 6), 0)
    assert state.programme.completion_due == london_end_of_day(date(2027, 3, 12), 0)
    assert state.next_deadline_at == state.programme.assessment_due

    log.event("assessment.completed", accepted + timedelta(days=5), outcome="suitable_for_programme")
    assert log.state().next_deadline_at == state.programme.completion_due
    log.event("course.completed", accepted + timedelta(days=60))
    assert log.state().next_deadline_at is None


def test_deadlines_are_configurable():
    rules = ProgrammeRules(adult_completion_weeks=20, adult_assessment_working_days=5)
    log = CaseLog()
    log.routed(at(1))
    log.event("referral.accepted", at(2))
    state = log.state(rules)
    assert state.programme.completion_due == london_end_of_day(date(2027, 3, 22), 0)
    assert state.programme.assessment_due == london_end_of_day(date(2026, 11, 9), 0)
    assert state.next_deadline_at == state.programme.assessment_due


def test_no_deadline_before_acceptance_or_after_refusal():
    log = CaseLog()
    log.routed(at(1))
    assert (log.state().next_deadline_at, log.state().programme.completion_due) == (None, None)
    log.event("referral.accepted", at(2))
    log.event("engagement.refused", at(3))
    state = log.state()
    assert state.status is CaseStatus.engagement_refused
    assert state.programme.completion_due is not None
    assert state.next_deadline_at is None


# --- re-routing, late and early facts ----------------------------------------------------------


def test_rerouting_after_a_rejection_ignores_the_rejecting_provider():
    log = CaseLog()
    log.routed(at(1), P1)
    log.event("contact.attempted", at(2), P1, method="phone", outcome="reached")
    log.book("a-1", at(3), at(30))
    log.event("referral.rejected", at(4), P1, reason="no_capacity", note="synthetic")
    log.routed(at(5), P2)
    state = log.state()
    assert (state.status, state.provider_id, state.rejected_by) == (CaseStatus.routed, P2, (P1,))
    assert (state.programme.contact_attempts, state.programme.appointments, state.accepted_at) == (0, (), None)
    log.event("appointment.attended", at(31), P1, appointment_id="a-1")
    assert log.state().status is CaseStatus.routed
    log.event("referral.accepted", at(32), P2)
    assert (log.state().status, log.state().accepted_at) == (CaseStatus.accepted_by_provider, at(32))


def test_a_late_acceptance_after_a_booking():
    log = CaseLog()
    log.routed(at(1))
    log.book("a-1", at(5), at(48))
    state = log.state()
    assert (state.status, state.accepted_at) == (CaseStatus.in_programme, at(5))
    log.event("referral.accepted", at(4))  # happened first, arrived last
    state = log.state()
    assert (state.status, state.accepted_at) == (CaseStatus.in_programme, at(4))
    assert [(t.status, t.seq) for t in state.transitions] == [
        (CaseStatus.awaiting_routing, 1),
        (CaseStatus.routed, 2),
        (CaseStatus.accepted_by_provider, 4),
        (CaseStatus.in_programme, 3),
    ]


def test_a_provider_clock_behind_the_gateway_does_not_lose_the_acceptance():
    log = CaseLog()
    log.routed(at(2))
    log.event("referral.accepted", at(1.5))
    state = log.state()
    assert state.status is CaseStatus.accepted_by_provider
    assert [t.status for t in state.transitions] == [CaseStatus.awaiting_routing, CaseStatus.accepted_by_provider]


def test_a_redelivered_fact_counts_once():
    log = CaseLog()
    log.routed(at(1))
    booked = log.book("a-1", at(2), at(48))
    log.facts.append(replace(booked, seq=99))
    state = log.state()
    assert (state.version, len(state.programme.appointments)) == (3, 1)
    assert ordered(log.facts)[-1].seq == 3


def test_an_empty_log_is_awaiting_routing():
    state = fold([])
    assert (state.status, state.version, state.transitions) == (CaseStatus.awaiting_routing, 0, ())


# --- facts and intake ----------------------------------------------------------------


def test_a_provider_fact_keeps_the_events_data_without_case_or_time():
    log = CaseLog()
    fact = log.book("a-1", at(2), at(48))
    assert fact.kind is FactKind.appointment_booked
    assert fact.provider_id == P1
    assert fact.key == (f"provider:{P1}", "wh-2")
    assert dict(fact.data) == {
        "appointment_id": "a-1",
        "kind": "assessment",
        "starts_at": "2026-11-04T09:00:00Z",
        "mode": "in_person",
        "out_of_hours": False,
    }


def test_a_fact_needs_an_aware_time_and_a_positive_seq():
    with pytest.raises(ValueError):
        Fact(FactKind.routed, datetime(2026, 1, 1), 1, GATEWAY_SOURCE, "m", {}, T0)
    with pytest.raises(ValueError):
        Fact(FactKind.routed, T0, 0, GATEWAY_SOURCE, "m", {}, T0)
    stored = Fact("case.routed", T0, 1, police_source(POLICE), "m", {}, T0)
    assert stored.kind is FactKind.routed
    assert stored.provider_id is None


def test_pathway_and_yju_at_intake():
    assert pathway_for(date(2009, 1, 2), date(2027, 1, 1)) is YOUTH
    assert pathway_for(date(2009, 1, 1), date(2027, 1, 1)) is ADULT
    assert needs_yju(YOUTH, 1) and not needs_yju(YOUTH, 0) and not needs_yju(ADULT, 3)
