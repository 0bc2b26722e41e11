"""The officer's timeline: plain words for every fact, and never a provider's free text. No database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from referral_api.lifecycle.facts import RULES_SOURCE, court_source
from referral_api.lifecycle import Fact, FactKind, corrected, describe, fold, police_source, yju_source
from support.case_log import P1, P2, POLICE, YJU, YOUTH, CaseLog, at

COURT = uuid.UUID(int=300)



NOTE = "SYNTHETIC-NOTE: disclosed a health condition"
REASON = "SYNTHETIC-REASON: hospital appointment"


def every_kind() -> list[tuple[Fact, str]]:
    """One fact of each kind, with the words expected for it (notes everywhere a note fits)."""
    log = CaseLog(YOUTH, needs_yju=True)
    expected = [(log.facts[0], "Referral received: youth community resolution pathway; waiting for the Youth Justice Unit to decide")]

    def add(fact: Fact, words: str) -> None:
        expected.append((fact, words))

    add(log.yju(at(1), "divert"), "The Youth Justice Unit decided the young person may be diverted")
    add(log.unroutable(at(2)), "No treatment provider could take the case")
    add(log.routed(at(3)), "Sent to a treatment provider")
    add(log.event("referral.rejected", at(4), reason="no_capacity", note=NOTE), "The provider could not take the referral: no capacity")
    add(log.event("referral.accepted", at(5)), "The provider accepted the referral")
    add(
        log.event("contact.attempted", at(6), method="sms", outcome="message_left"),
        "The provider tried to contact the person by text message: left a message",
    )
    add(
        log.book("a-1", at(7), datetime(2026, 12, 3, 18, 0, tzinfo=UTC), out_of_hours=True),
        "The provider booked an assessment (in person, outside office hours) for 3 Dec 2026 18:00 (appointment a-1)",
    )
    add(
        log.event("appointment.cancelled", at(8), appointment_id="a-1", cancelled_by="person", reason=REASON),
        "Appointment a-1 cancelled by the person",
    )
    add(
        log.event("appointment.missed", at(9), appointment_id="a-1", reason_category="unacceptable", note=NOTE),
        "Missed appointment a-1: unacceptable absence",
    )
    add(log.event("appointment.attended", at(10), appointment_id="a-1", punctuality="late"), "Attended appointment a-1 (late)")
    add(log.event("assessment.completed", at(11), outcome="suitable_for_programme"), "Assessment completed: suitable for programme")
    add(log.event("intervention.completed", at(12), intervention="session", session_number=3), "Completed session 3 of 6")
    add(log.event("course.completed", at(13)), "The person completed the programme")
    add(log.event("engagement.refused", at(14), note=NOTE), "The person said they will not take part")
    add(log.event("case.closed_by_provider", at(15), reason="moved_away", note=NOTE), "The provider closed the case: the person moved away")
    add(
        log.add(FactKind.withdrawn, at(16), police_source(POLICE), {"reason": "not_in_public_interest", "note": NOTE}),
        "The police withdrew the referral (not in public interest)",
    )
    rules, request = RULES_SOURCE, {"breach_request_id": str(uuid.UUID(int=7))}
    add(log.add(FactKind.warning_issued, at(17), rules, {"appointment_id": "a-1"}),
        "Warning: unacceptable absence from appointment a-1; a second one raises a breach request")
    add(log.add(FactKind.reminder_sent, at(18), rules, {"key": "assessment", "deadline": "assessment", "due_at": "2026-11-16T17:00:00+00:00"}),
        "Reminder: the deadline for the assessment is 16 Nov 2026 17:00")
    add(log.add(FactKind.breach_raised, at(19), rules, {**request, "rule": "missed_appointments", "addressee": "yju", "basis_key": "k"}),
        "Breach request raised for the Youth Justice Unit: a second unacceptable missed appointment; waiting for the officer in the case to review it")
    add(log.add(FactKind.breach_submitted, at(20), police_source(POLICE), request), "The officer in the case submitted the breach request")
    add(log.add(FactKind.breach_acknowledged, at(21), yju_source(YJU), request), "The breach request was acknowledged")
    add(log.add(FactKind.breach_hearing_scheduled, at(22), court_source(COURT), {**request, "hearing_at": "2026-12-10T10:00:00+00:00", "court_room": "Court 2"}),
        "Hearing scheduled for 10 Dec 2026 10:00")
    add(log.add(FactKind.breach_outcome_recorded, at(23), yju_source(YJU), {**request, "outcome": "youth_caution", "note": NOTE}),
        "Outcome recorded on the breach request: youth caution")
    add(log.add(FactKind.breach_withdrawn, at(24), police_source(POLICE), {**request, "reason": "reasonable_excuse", "note": NOTE}),
        "Breach request withdrawn (reasonable excuse)")
    return expected


def test_every_kind_of_fact_is_described():
    expected = every_kind()
    assert {fact.kind for fact, _ in expected} == set(FactKind)
    for fact, words in expected:
        assert describe(fact) == words


def test_no_free_text_ever_reaches_the_timeline():
    for fact, _ in every_kind():
        words = describe(fact)
        assert "SYNTHETIC" not in words
        assert "health" not in words and "hospital" not in words
        assert str(P1) not in words


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({"mode": "online", "kind": "intervention"}, "The provider booked an intervention (online) for 4 Nov 2026 09:00"),
        ({"mode": "phone", "kind": "follow_up"}, "The provider booked a follow-up (by phone) for 4 Nov 2026 09:00"),
        ({"mode": "video", "kind": "session"}, "The provider booked a session (by video) for 4 Nov 2026 09:00"),
    ],
)
def test_bookings_in_words(data, words):
    log = CaseLog()
    fact = log.event("appointment.booked", at(1), appointment_id="b-7", starts_at=at(48), **data)
    assert describe(fact) == f"{words} (appointment b-7)"


def test_booking_times_are_london_times():
    log = CaseLog()
    fact = log.book("a-1", at(1), datetime(2026, 7, 1, 17, 30, tzinfo=UTC))
    assert "1 Jul 2026 18:30" in describe(fact)


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({"intervention": "online_intervention_1"}, "Completed online intervention 1"),
        ({"intervention": "online_intervention_2"}, "Completed online intervention 2"),
        ({"intervention": "follow_up"}, "Completed the personal follow-up"),
    ],
)
def test_adult_interventions_in_words(data, words):
    assert describe(CaseLog().event("intervention.completed", at(1), **data)) == words


def test_other_vocabulary_in_words():
    log = CaseLog()
    assert describe(log.yju(at(1), "decline")) == "The Youth Justice Unit declined diversion"
    assert describe(log.facts[0]) == "Referral received: adult deferred summons pathway"
    assert describe(log.event("appointment.attended", at(2), appointment_id="a-1")) == "Attended appointment a-1"
    assert (
        describe(log.event("appointment.missed", at(3), appointment_id="a-1", reason_category="logistics"))
        == "Missed appointment a-1: the service could not hold it"
    )
    assert (
        describe(log.event("appointment.cancelled", at(4), appointment_id="a-1", cancelled_by="provider"))
        == "Appointment a-1 cancelled by the provider"
    )
    assert describe(log.event("assessment.completed", at(5), outcome="not_suitable")) == "Assessment completed: not suitable"


def test_a_superseded_outcome_is_marked_corrected():
    log = CaseLog()
    log.routed(at(1))
    booked = log.book("a-1", at(2), at(24))
    missed = log.event("appointment.missed", at(25), appointment_id="a-1", reason_category="unacceptable")
    attended = log.event("appointment.attended", at(26), appointment_id="a-1")
    assert corrected(log.facts) == {missed.key}
    assert booked.key not in corrected(log.facts) and attended.key not in corrected(log.facts)
    # Marked exactly when the fold stops counting it.
    assert sum(fold(log.facts).programme.missed.values()) == 0


def test_a_rescheduled_booking_is_not_a_correction_but_an_outcome_rebooked_is():
    log = CaseLog()
    log.routed(at(1))
    log.book("a-1", at(2), at(24))
    log.book("a-1", at(3), at(48))
    assert corrected(log.facts) == set()
    cancelled = log.event("appointment.cancelled", at(4), appointment_id="a-1", cancelled_by="person")
    log.book("a-1", at(5), at(72))
    assert corrected(log.facts) == {cancelled.key}


def test_corrections_follow_the_order_of_the_reports_not_their_times():
    log = CaseLog()
    log.routed(at(1))
    log.book("a-1", at(2), at(24))
    missed = log.event("appointment.missed", at(25), appointment_id="a-1", reason_category="acceptable")
    attended = log.event("appointment.attended", at(24), appointment_id="a-1")
    assert corrected(log.facts) == {missed.key}
    assert attended.key not in corrected(log.facts)


def test_appointment_ids_are_per_provider():
    log = CaseLog()
    log.routed(at(1))
    log.book("a-1", at(2), at(24))
    log.event("appointment.missed", at(25), appointment_id="a-1", reason_category="unacceptable")
    log.event("appointment.attended", at(26), P2, appointment_id="a-1")
    assert corrected(log.facts) == set()


def test_a_provider_event_without_words_of_its_own_reads_by_its_name(monkeypatch):
    """A provider event type new to the contract needs no change here to show in the timeline."""
    from referral_api.lifecycle import timeline

    fact = CaseLog().event("course.completed", at(1))
    monkeypatch.delitem(timeline._DESCRIBE, FactKind.course_completed)
    assert describe(fact) == "The provider reported: course completed"


def test_referral_apis_own_facts_always_have_words():
    from referral_api.lifecycle import timeline

    own = [kind for kind in FactKind if kind not in timeline.PROVIDER_KINDS]
    assert own and all(kind in timeline._DESCRIBE for kind in own)
