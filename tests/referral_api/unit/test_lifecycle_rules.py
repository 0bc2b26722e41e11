"""Which new provider facts a case accepts, and why it refuses the others. No database."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from diversion_common.contracts import CLOCK_ALLOWANCE, CaseStatus, Pathway
from referral_api.lifecycle import Fact, Refusal, refusal
from support.case_log import ADULT, CASE, P1, P2, YOUTH, CaseLog, at



NOTE = "Synthetic note: seen at the clinic for a health matter"


def propose(log: CaseLog, type_: str, when: datetime, provider: uuid.UUID = P1, **data) -> tuple[Refusal | None, Fact]:
    """Whether the case would take this event: the fact is built but not added to the log."""
    state = log.state()
    fact = log.event(type_, when, provider, **data)
    log.facts.pop()
    return refusal(state, fact), fact


def routed_case(pathway: Pathway = ADULT) -> CaseLog:
    log = CaseLog(pathway)
    log.routed(at(1))
    return log


def code(result: tuple[Refusal | None, Fact]) -> str | None:
    return result[0].code if result[0] is not None else None


def test_the_current_provider_may_report_its_work():
    log = routed_case()
    assert code(propose(log, "referral.accepted", at(2))) is None
    assert code(propose(log, "contact.attempted", at(2), method="sms", outcome="message_left")) is None
    assert code(propose(log, "appointment.booked", at(2), appointment_id="a-1", kind="assessment", starts_at=at(30), mode="phone")) is None
    assert code(propose(log, "referral.rejected", at(2), reason="out_of_area")) is None


def test_an_outcome_for_a_booked_appointment_is_accepted():
    log = routed_case()
    log.book("a-1", at(2), at(30))
    assert code(propose(log, "appointment.attended", at(31), appointment_id="a-1")) is None
    assert code(propose(log, "appointment.missed", at(31), appointment_id="a-1", reason_category="logistics")) is None
    assert code(propose(log, "appointment.cancelled", at(3), appointment_id="a-1", cancelled_by="provider")) is None


@pytest.mark.parametrize("type_", ["appointment.attended", "appointment.missed", "appointment.cancelled"])
def test_an_outcome_for_an_appointment_never_booked_is_refused(type_):
    log = routed_case()
    log.book("a-1", at(2), at(30))
    extra = {
        "appointment.attended": {},
        "appointment.missed": {"reason_category": "unacceptable"},
        "appointment.cancelled": {"cancelled_by": "person"},
    }[type_]
    refused, _ = propose(log, type_, at(31), appointment_id="a-2", **extra)
    assert refused.code == "appointment_not_booked"
    assert "a-2" in refused.detail


def test_an_appointment_booked_by_the_previous_provider_does_not_count():
    log = routed_case()
    log.book("a-1", at(2), at(30))
    log.event("referral.rejected", at(3), reason="no_capacity")
    log.routed(at(4), P2)
    assert code(propose(log, "appointment.attended", at(31), P2, appointment_id="a-1")) == "appointment_not_booked"


def test_only_the_current_provider_may_report():
    unrouted = CaseLog()
    assert code(propose(unrouted, "referral.accepted", at(2))) == "not_with_provider"
    log = routed_case()
    assert code(propose(log, "referral.accepted", at(2), P2)) == "not_with_provider"
    log.event("referral.rejected", at(3), reason="not_suitable")
    log.routed(at(4), P2)
    refused, _ = propose(log, "contact.attempted", at(5), P1, method="phone", outcome="reached")
    assert refused == Refusal("not_with_provider", "This case is not with your service.")
    log.unroutable(at(6))
    assert code(propose(log, "referral.accepted", at(7), P2)) == "not_with_provider"


def test_a_provider_the_case_is_not_with_does_not_learn_that_it_ended():
    log = routed_case()
    log.withdrew(at(2))
    assert code(propose(log, "referral.accepted", at(3), P2)) == "not_with_provider"


def test_a_withdrawn_case_takes_nothing_more_even_from_before():
    log = routed_case()
    log.event("referral.accepted", at(2))
    log.withdrew(at(10))
    assert code(propose(log, "contact.attempted", at(11), method="phone", outcome="reached")) == "case_ended"
    assert code(propose(log, "contact.attempted", at(5), method="phone", outcome="reached")) == "case_ended"


def test_a_case_the_yju_declined_takes_nothing_more():
    log = CaseLog(YOUTH, needs_yju=True)
    log.routed(at(1))  # out of turn, so the decline is what ends it
    log.yju(at(2), "decline")
    assert log.state().status is CaseStatus.declined_by_yju
    assert code(propose(log, "referral.accepted", at(3))) == "case_ended"


@pytest.mark.parametrize(
    ("type_", "data"),
    [("course.completed", {}), ("case.closed_by_provider", {"reason": "transferred"})],
)
def test_after_the_provider_ends_it_a_late_fact_from_before_is_accepted_and_a_later_one_refused(type_, data):
    log = routed_case()
    log.book("a-1", at(2), at(30))
    log.event(type_, at(100), **data)
    assert code(propose(log, "appointment.attended", at(31), appointment_id="a-1")) is None
    refused, _ = propose(log, "appointment.attended", at(101), appointment_id="a-1")
    assert refused.code == "case_ended"
    assert code(propose(log, "intervention.completed", at(99), intervention="follow_up")) is None


def test_an_intervention_outside_the_pathway_is_refused():
    adult = routed_case(ADULT)
    refused, _ = propose(adult, "intervention.completed", at(2), intervention="session", session_number=2)
    assert refused.code == "intervention_not_in_pathway"
    assert "adult" in refused.detail
    for intervention in ("online_intervention_1", "online_intervention_2", "follow_up"):
        assert code(propose(adult, "intervention.completed", at(2), intervention=intervention)) is None

    youth = routed_case(YOUTH)
    for intervention in ("online_intervention_1", "online_intervention_2", "follow_up"):
        assert code(propose(youth, "intervention.completed", at(2), intervention=intervention)) == "intervention_not_in_pathway"
    assert code(propose(youth, "intervention.completed", at(2), intervention="session", session_number=6)) is None


def test_refusal_details_hold_no_personal_data_or_notes():
    log = routed_case()
    log.event("engagement.refused", at(2), note=NOTE)
    log.event("case.closed_by_provider", at(3), reason="other", note=NOTE)
    refusals = [
        propose(log, "contact.attempted", at(4), method="phone", outcome="reached")[0],
        propose(log, "contact.attempted", at(4), P2, method="phone", outcome="reached")[0],
    ]
    for refused in refusals:
        assert NOTE not in refused.detail
        assert str(P1) not in refused.detail and str(CASE) not in refused.detail


def test_an_engagement_refusal_does_not_end_the_case():
    log = routed_case()
    log.event("engagement.refused", at(2))
    assert code(propose(log, "contact.attempted", at(3), method="phone", outcome="reached")) is None


def test_only_provider_facts_are_checked():
    log = routed_case()
    with pytest.raises(ValueError):
        refusal(log.state(), log.withdrew(at(2)))


@pytest.mark.parametrize(
    ("earlier", "data"),
    [("referral.accepted", {}), ("contact.attempted", {"method": "phone", "outcome": "no_answer"})],
)
def test_a_provider_that_has_taken_the_case_on_can_no_longer_reject_it(earlier, data):
    log = routed_case()
    log.event(earlier, at(2), **data)
    assert code(propose(log, "referral.rejected", at(3), reason="no_capacity")) == "already_answered"


def test_a_provider_that_declined_the_case_reports_nothing_more_even_before_it_is_routed_on():
    log = routed_case()
    log.event("referral.rejected", at(2), reason="no_capacity")
    # The gateway's next routing has not reached the log yet: the case still names P1.
    assert log.state().provider_id == P1
    assert code(propose(log, "appointment.booked", at(3), appointment_id="a-1", kind="assessment", starts_at=at(30), mode="phone")) == "not_with_provider"
    assert code(propose(log, "referral.accepted", at(3))) == "not_with_provider"


def test_a_provider_that_has_accepted_the_case_does_not_accept_it_again():
    log = routed_case()
    log.event("referral.accepted", at(3))
    assert code(propose(log, "referral.accepted", at(3))) == "already_answered"
    assert code(propose(log, "referral.accepted", at(4))) == "already_answered"


@pytest.mark.parametrize(
    ("earlier", "data"),
    [
        ("contact.attempted", {"method": "phone", "outcome": "message_left"}),
        ("appointment.booked", {"appointment_id": "a-1", "kind": "assessment", "starts_at": at(30), "mode": "phone"}),
    ],
)
def test_an_acceptance_after_work_already_begun_is_the_providers_answer_and_recorded(earlier, data):
    log = routed_case()
    log.event(earlier, at(2), **data)
    refused, fact = propose(log, "referral.accepted", at(3))
    assert refused is None
    log.facts.append(fact)
    assert (log.state().answered_at, log.state().accepted_at) == (at(3), at(2))  # taken on at the earlier work


def test_an_acceptance_dated_before_the_first_is_a_late_fact_and_recorded():
    log = routed_case()
    log.event("referral.accepted", at(5))
    refused, fact = propose(log, "referral.accepted", at(2))
    assert refused is None
    log.facts.append(fact)
    assert log.state().accepted_at == at(2)


def test_an_appointment_that_took_place_or_was_missed_is_not_booked_again():
    log = routed_case()
    log.book("a-1", at(2), at(30))
    log.event("appointment.missed", at(31), appointment_id="a-1", reason_category="unacceptable")
    booking = {"appointment_id": "a-1", "kind": "assessment", "starts_at": at(60), "mode": "phone"}
    assert code(propose(log, "appointment.booked", at(32), **booking)) == "appointment_has_outcome"
    log.book("a-2", at(2), at(40))
    log.event("appointment.cancelled", at(3), appointment_id="a-2", cancelled_by="person")
    assert code(propose(log, "appointment.booked", at(4), **{**booking, "appointment_id": "a-2"})) is None  # rescheduled


def test_an_event_dated_before_the_case_reached_the_provider_is_refused():
    log = routed_case()  # routed at hour 1
    assert code(propose(log, "contact.attempted", at(1) - timedelta(minutes=4), method="phone", outcome="reached")) is None
    assert code(propose(log, "contact.attempted", at(1) - timedelta(hours=1), method="phone", outcome="reached")) == "before_referral"


# --- an appointment's time against the case's acceptance, its booking and the report (issue 23) ---

MINUTE = timedelta(minutes=1)


def accepted_case(accepted_hour: float = 2) -> CaseLog:
    log = routed_case()  # routed at hour 1
    log.event("referral.accepted", at(accepted_hour))
    return log


def booking(appointment_id: str = "a-1", starts_at: datetime = at(30)) -> dict:
    return {"appointment_id": appointment_id, "kind": "assessment", "starts_at": starts_at, "mode": "phone"}


MISSED = {"reason_category": "unacceptable"}


def test_a_booking_for_a_time_before_the_case_was_accepted_is_refused():
    log = accepted_case(accepted_hour=10)
    refused, _ = propose(log, "appointment.booked", at(11), **booking(starts_at=at(9)))
    assert refused.code == "appointment_before_acceptance"
    assert "accepted" in refused.detail
    # Within the clock allowance of the acceptance (and of the booking itself) it is taken.
    assert code(propose(log, "appointment.booked", at(10), **booking(starts_at=at(10) - 4 * MINUTE))) is None


def test_a_booking_that_is_the_first_activity_is_measured_from_itself():
    log = routed_case()  # no referral.accepted yet: the booking is what takes the case on
    assert code(propose(log, "appointment.booked", at(5), **booking(starts_at=at(5) + MINUTE))) is None
    assert code(propose(log, "appointment.booked", at(5), **booking(starts_at=at(4)))) == "appointment_starts_before_booking"


def test_an_acceptance_reported_later_than_the_booking_does_not_make_it_earlier():
    # The acceptance is the earlier of referral.accepted and the first activity: a booking made
    # (and starting) before a late referral.accepted is not "before acceptance".
    log = accepted_case(accepted_hour=20)
    assert code(propose(log, "appointment.booked", at(3), **booking(starts_at=at(4)))) is None


def test_a_booking_for_a_time_before_it_was_made_is_refused():
    log = accepted_case()
    refused, _ = propose(log, "appointment.booked", at(40), **booking(starts_at=at(30)))
    assert refused.code == "appointment_starts_before_booking"
    assert code(propose(log, "appointment.booked", at(40), **booking(starts_at=at(40) - 4 * MINUTE))) is None
    assert code(propose(log, "appointment.booked", at(40), **booking(starts_at=at(40) - 6 * MINUTE))) == "appointment_starts_before_booking"


@pytest.mark.parametrize(("type_", "extra"), [("appointment.attended", {}), ("appointment.missed", MISSED)])
def test_an_attendance_or_a_miss_before_the_appointment_starts_is_refused(type_, extra):
    log = accepted_case()
    log.book("a-1", at(3), at(30))
    refused, _ = propose(log, type_, at(29), appointment_id="a-1", **extra)
    assert refused.code == "appointment_not_started"
    assert "a-1" in refused.detail
    # The provider's clock may run a few minutes ahead of the appointment's.
    assert code(propose(log, type_, at(30) - 4 * MINUTE, appointment_id="a-1", **extra)) is None
    assert code(propose(log, type_, at(30) - 6 * MINUTE, appointment_id="a-1", **extra)) == "appointment_not_started"
    assert code(propose(log, type_, at(30), appointment_id="a-1", **extra)) is None


@pytest.mark.parametrize(("type_", "extra"), [("appointment.attended", {}), ("appointment.missed", MISSED)])
def test_an_outcome_dated_before_its_booking_is_refused(type_, extra):
    log = accepted_case()
    log.book("a-1", at(20), at(30))
    refused, _ = propose(log, type_, at(19), appointment_id="a-1", **extra)
    # Dated before the appointment starts too: the booking is named, as it is the plainer fault.
    assert refused.code == "outcome_before_booking"
    cancelled, _ = propose(log, "appointment.cancelled", at(19), appointment_id="a-1", cancelled_by="person")
    assert cancelled.code == "outcome_before_booking"
    assert code(propose(log, "appointment.cancelled", at(21), appointment_id="a-1", cancelled_by="person")) is None


@pytest.mark.parametrize(("type_", "extra"), [("appointment.attended", {}), ("appointment.missed", MISSED)])
def test_an_outcome_for_an_appointment_that_started_before_acceptance_is_refused(type_, extra):
    # Booked (and started) before a referral.accepted dated later: the booking is the acceptance.
    taken_on_by_booking = accepted_case(accepted_hour=10)
    taken_on_by_booking.book("a-1", at(2), at(5))
    assert code(propose(taken_on_by_booking, type_, at(6), appointment_id="a-1", **extra)) is None
    # Such a booking is refused now; a log recorded before the rule can still hold one.
    log = accepted_case(accepted_hour=10)
    log.book("a-2", at(11), at(9))
    assert code(propose(log, type_, at(12), appointment_id="a-2", **extra)) == "appointment_before_acceptance"


def test_two_future_misses_are_refused_and_raise_nothing():
    log = accepted_case()
    log.book("a-1", at(3), at(24 * 10))
    log.book("a-2", at(3), at(24 * 11))
    for appointment_id in ("a-1", "a-2"):
        assert code(propose(log, "appointment.missed", at(4), appointment_id=appointment_id, **MISSED)) == "appointment_not_started"


def test_the_appointment_rules_never_refuse_a_timely_programme():
    log = accepted_case()
    log.book("a-1", at(3), at(30))
    assert code(propose(log, "appointment.attended", at(31), appointment_id="a-1")) is None
    log.event("appointment.attended", at(31), appointment_id="a-1")
    # Rescheduled: a cancelled appointment booked again for a later time.
    log.book("a-2", at(32), at(50))
    log.event("appointment.cancelled", at(33), appointment_id="a-2", cancelled_by="person")
    assert code(propose(log, "appointment.booked", at(34), **booking("a-2", at(60)))) is None
    log.book("a-2", at(34), at(60))
    assert code(propose(log, "appointment.missed", at(50), appointment_id="a-2", **MISSED)) == "appointment_not_started"
    assert code(propose(log, "appointment.missed", at(61), appointment_id="a-2", **MISSED)) is None


TIMING_CODES = {"appointment_before_acceptance", "appointment_starts_before_booking", "appointment_not_started", "outcome_before_booking"}
hours = st.floats(min_value=2, max_value=2000, allow_nan=False)


@given(accepted=hours, booked=hours, starts=hours, reported=hours, missed=st.booleans())
def test_the_timing_rules_refuse_exactly_what_cannot_have_happened(accepted, booked, starts, reported, missed):
    log = accepted_case(accepted_hour=accepted)
    acceptance = min(at(accepted), at(booked))  # a booking is work with the person: it may be the acceptance
    booking_refused = code(propose(log, "appointment.booked", at(booked), **booking(starts_at=at(starts))))
    possible_booking = at(starts) >= max(acceptance, at(booked)) - CLOCK_ALLOWANCE
    assert (booking_refused in TIMING_CODES) == (not possible_booking)
    if not possible_booking:
        return
    log.book("a-1", at(booked), at(starts))
    type_, extra = ("appointment.missed", MISSED) if missed else ("appointment.attended", {})
    outcome_refused = code(propose(log, type_, at(reported), appointment_id="a-1", **extra))
    possible_outcome = at(reported) >= at(booked) and at(starts) <= at(reported) + CLOCK_ALLOWANCE
    assert (outcome_refused in TIMING_CODES) == (not possible_outcome)
