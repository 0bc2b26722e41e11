"""The stored snapshot against the oracle: for any log, folding one fact at a time onto a snapshot
that goes through its stored form (JSON) after every fact gives exactly the state a full refold
from scratch gives. And breach requests follow the order their facts were recorded in. No database.

Deterministic (derandomized, no example database) so a run is repeatable.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from diversion_common.contracts import CaseStatus, Deadline
from referral_api.lifecycle.breach_requests import BreachStatus
from referral_api.lifecycle.facts import GATEWAY_SOURCE, RULES_SOURCE, FactKind, police_source, provider_source
from referral_api.lifecycle.fold import CaseSnapshot, ProviderWork, evolve, fold, fold_snapshot, state_of
from referral_api.lifecycle.snapshots import snapshot_from_json, snapshot_to_json
from support.case_log import ADULT, P1, P2, POLICE, YOUTH, CaseLog, at

SETTINGS = settings(derandomize=True, max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

REQUESTS = [uuid.UUID(int=500 + n) for n in range(2)]
APPOINTMENTS = ["a-1", "a-2", "a-3"]


def _raise(log: CaseLog, when, request: uuid.UUID) -> None:
    log.add(FactKind.breach_raised, when, RULES_SOURCE, {
        "breach_request_id": str(request), "rule": "missed_appointments", "basis_key": f"missed_appointments:{request}",
        "addressee": "court", "court": "reading-magistrates", "evidence": [{"fact": "appointment.missed", "appointment_id": "a-1"}],
        "attendance": [], "deadlines": {"due_at": None}, "review_due_at": (when + timedelta(days=7)).isoformat(),
    })


STEPS = {
    "submit": lambda log, when, r: log.add(FactKind.breach_submitted, when, police_source(POLICE), {"breach_request_id": str(r)}),
    "acknowledge": lambda log, when, r: log.add(FactKind.breach_acknowledged, when, "court:x", {"breach_request_id": str(r)}),
    "hearing": lambda log, when, r: log.add(FactKind.breach_hearing_scheduled, when, "court:x", {
        "breach_request_id": str(r), "hearing_at": (when + timedelta(days=20)).isoformat(), "court_room": "2"}),
    "outcome": lambda log, when, r: log.add(FactKind.breach_outcome_recorded, when, "court:x", {
        "breach_request_id": str(r), "outcome": "adjourned", "note": "SYNTHETIC"}),
    "withdraw": lambda log, when, r: log.add(FactKind.breach_withdrawn, when, RULES_SOURCE, {
        "breach_request_id": str(r), "reason": "basis_corrected", "note": None}),
}


@st.composite
def operations(draw) -> tuple:
    kind = draw(st.sampled_from([
        "routed", "routed", "unroutable", "withdrew", "yju", "accepted", "rejected", "contact", "contact", "book", "book",
        "attended", "missed", "cancelled", "assessment", "session", "course", "refused", "closed",
        "raise", "step", "step", "warning", "reminder",
    ]))
    return (kind, draw(st.integers(0, 3000)), draw(st.sampled_from([P1, P1, P2])), draw(st.sampled_from(APPOINTMENTS)),
            draw(st.sampled_from(REQUESTS)), draw(st.sampled_from(sorted(STEPS))), draw(st.booleans()))


def _apply(log: CaseLog, operation: tuple) -> None:
    kind, hours, provider, appointment, request, step, flag = operation
    when = at(hours)
    if kind == "routed":
        log.routed(when, provider)
    elif kind == "unroutable":
        log.unroutable(when)
    elif kind == "withdrew":
        log.withdrew(when)
    elif kind == "yju":
        log.yju(when, "divert" if flag else "decline")
    elif kind == "accepted":
        log.event("referral.accepted", when, provider)
    elif kind == "rejected":
        log.event("referral.rejected", when, provider, reason="no_capacity")
    elif kind == "contact":
        log.event("contact.attempted", when, provider, method="phone", outcome="reached" if flag else "no_answer")
    elif kind == "book":
        log.event("appointment.booked", when, provider, appointment_id=appointment, kind="assessment",
                  starts_at=when + timedelta(hours=30), mode="in_person", out_of_hours=flag)
    elif kind == "attended":
        log.event("appointment.attended", when, provider, appointment_id=appointment, punctuality="late" if flag else "on_time")
    elif kind == "missed":
        log.event("appointment.missed", when, provider, appointment_id=appointment,
                  reason_category="unacceptable" if flag else "acceptable", note="SYNTHETIC")
    elif kind == "cancelled":
        log.event("appointment.cancelled", when, provider, appointment_id=appointment, cancelled_by="provider")
    elif kind == "assessment":
        log.event("assessment.completed", when, provider, outcome="suitable_for_programme" if flag else "not_suitable")
    elif kind == "session":
        log.event("intervention.completed", when, provider, intervention="online_intervention_1")
    elif kind == "course":
        log.event("course.completed", when, provider)
    elif kind == "refused":
        log.event("engagement.refused", when, provider)
    elif kind == "closed":
        log.event("case.closed_by_provider", when, provider, reason="moved_away")
    elif kind == "raise":
        _raise(log, when, request)
    elif kind == "step":
        STEPS[step](log, when, request)
    elif kind == "warning":
        log.add(FactKind.warning_issued, when, RULES_SOURCE, {"rule": "missed_appointments", "appointment_id": appointment, "evidence": []})
    else:
        log.add(FactKind.reminder_sent, when, RULES_SOURCE, {"key": f"reminder:completion:{hours}", "deadline": "completion"})


@st.composite
def logs(draw) -> CaseLog:
    pathway = draw(st.sampled_from([ADULT, YOUTH]))
    log = CaseLog(pathway, when=at(draw(st.integers(0, 100))), needs_yju=pathway is YOUTH and draw(st.booleans()))
    for operation in draw(st.lists(operations(), max_size=40)):
        _apply(log, operation)
    return log


@SETTINGS
@given(logs())
def test_a_snapshot_stored_after_every_fact_equals_the_refold_from_scratch(log):
    snapshot = CaseSnapshot()
    for n, fact in enumerate(log.facts, start=1):
        stored = snapshot_to_json(evolve(snapshot, fact))
        snapshot = snapshot_from_json(stored)
        assert snapshot_to_json(snapshot) == stored  # the stored form reads back to itself
        assert snapshot == fold_snapshot(log.facts[:n])
        assert state_of(snapshot) == fold(log.facts[:n])
    assert state_of(snapshot).engagement == fold(log.facts).engagement  # not compared by ==, so here


def test_a_snapshot_has_one_stored_form_whatever_order_its_sets_iterate_in():
    # A set iterates in an order that hangs on the process's string hashing: a CI run under
    # one hash seed read a stored ["online_intervention_1", "assessment"] back and wrote it
    # the other way round. Thirty names are never in sorted order by chance.
    names = [f"requirement_{n:02}" for n in range(30)]
    snapshot = CaseSnapshot(
        providers={P1: ProviderWork(done=frozenset(reversed(names)))},
        reminders_sent=frozenset(f"reminder:{name}" for name in reversed(names)),
    )
    stored = snapshot_to_json(snapshot)
    assert stored["providers"][str(P1)]["done"] == names
    assert stored["reminders_sent"] == [f"reminder:{name}" for name in names]
    assert snapshot_to_json(snapshot_from_json(stored)) == stored


@SETTINGS
@given(logs(), st.randoms(use_true_random=False))
def test_the_refold_reads_the_log_in_recorded_order_whatever_order_it_is_given(log, random):
    shuffled = list(log.facts)
    random.shuffle(shuffled)
    assert fold(shuffled) == fold(log.facts)


# --- breach requests follow the order their facts were recorded in -----------------------------


def test_a_withdrawal_recorded_after_a_future_dated_raise_withdraws_it():
    """A request raised with a clock ahead (dated tomorrow), then withdrawn at today's time when a
    correction removed its basis: the withdrawal sorts before the raise by date, yet it withdraws."""
    log = CaseLog()
    log.routed(at(1))
    log.event("referral.accepted", at(2))
    request = REQUESTS[0]
    _raise(log, at(48), request)
    STEPS["withdraw"](log, at(5), request)
    state = log.state()
    assert state.breach_request(request).status is BreachStatus.withdrawn
    assert state.status is CaseStatus.accepted_by_provider
    assert state.open_breach_request is None


def test_a_step_recorded_before_its_request_was_raised_changes_nothing():
    log = CaseLog()
    log.routed(at(1))
    STEPS["withdraw"](log, at(3), REQUESTS[0])
    _raise(log, at(2), REQUESTS[0])
    assert log.state().breach_request(REQUESTS[0]).status is BreachStatus.pending_oic_review


def test_the_history_shows_a_request_open_from_its_raising_to_its_withdrawal():
    log = CaseLog()
    log.routed(at(1))
    log.event("referral.accepted", at(2))
    _raise(log, at(10), REQUESTS[0])
    STEPS["withdraw"](log, at(20), REQUESTS[0])
    assert [(t.status, t.kind) for t in log.state().transitions][-2:] == [
        (CaseStatus.breach_requested, FactKind.breach_raised),
        (CaseStatus.accepted_by_provider, FactKind.breach_withdrawn),
    ]


def test_one_new_fact_on_a_long_log_is_folded_onto_the_snapshot_alone():
    """What a service does per fact: evolve the stored snapshot; the answer is the refold's."""
    log = CaseLog()
    log.routed(at(1))
    log.event("referral.accepted", at(2))
    for n in range(300):
        log.event("contact.attempted", at(3 + n), method="sms", outcome="reached")
    stored = snapshot_to_json(fold_snapshot(log.facts))
    fact = log.event("case.closed_by_provider", at(400), reason="moved_away")
    assert state_of(evolve(snapshot_from_json(stored), fact)) == fold(log.facts)
    assert fold(log.facts).status is CaseStatus.closed_by_provider


# --- the domain events a fact causes ------------------------------------------------------------


def events_of_last(log: CaseLog):
    from referral_api.lifecycle.fold import step

    *earlier, last = log.facts
    before = fold(earlier) if earlier else None
    return step(fold_snapshot(earlier), before, last)[2]


def test_the_fold_says_what_a_fact_did_as_domain_events():
    from referral_api.lifecycle.events import BreachRequestChanged, ReminderSent, StatusChanged, WarningIssued

    log = CaseLog()
    assert events_of_last(log) == (StatusChanged(None, CaseStatus.awaiting_routing, None, police_source(POLICE)),)
    log.routed(at(1))
    assert events_of_last(log) == (StatusChanged(CaseStatus.awaiting_routing, CaseStatus.routed, None, GATEWAY_SOURCE),)
    log.event("contact.attempted", at(2), method="sms", outcome="no_answer")
    assert events_of_last(log) == (StatusChanged(CaseStatus.routed, CaseStatus.accepted_by_provider, None, provider_source(P1)),)
    log.event("contact.attempted", at(3), method="sms", outcome="no_answer")
    assert events_of_last(log) == ()  # the programme moved, the status did not: nobody is told
    log.add(FactKind.warning_issued, at(4), RULES_SOURCE, {"rule": "missed_appointments", "appointment_id": "a-1", "evidence": []})
    assert events_of_last(log) == (WarningIssued("a-1"),)
    log.add(FactKind.reminder_sent, at(5), RULES_SOURCE, {"key": "k", "deadline": "completion", "due_at": at(90).isoformat()})
    assert events_of_last(log) == (ReminderSent(Deadline.completion, at(90), None),)
    _raise(log, at(6), REQUESTS[0])
    assert events_of_last(log) == (
        StatusChanged(CaseStatus.accepted_by_provider, CaseStatus.breach_requested, None, RULES_SOURCE), BreachRequestChanged(REQUESTS[0]),
    )
    STEPS["outcome"](log, at(7), REQUESTS[0])  # not a step a pending request can take
    assert events_of_last(log) == ()
    log.withdrew(at(8), reason="charged_instead")
    assert events_of_last(log) == (StatusChanged(CaseStatus.breach_requested, CaseStatus.withdrawn, "charged_instead", police_source(POLICE)),)


def test_a_providers_fact_after_a_requests_submission_is_an_event_for_its_readers():
    from referral_api.lifecycle.events import FactReportedAfterSubmission

    log = CaseLog()
    log.routed(at(1))
    log.event("contact.attempted", at(2), method="sms", outcome="no_answer")
    _raise(log, at(3), REQUESTS[0])
    log.event("contact.attempted", at(4), method="sms", outcome="reached")
    assert events_of_last(log) == ()  # pending the officer's review: the police's alone, nobody else weighs it
    STEPS["submit"](log, at(5), REQUESTS[0])
    late = log.event("contact.attempted", at(6), method="sms", outcome="reached")
    assert events_of_last(log) == (FactReportedAfterSubmission(REQUESTS[0], late.source, late.source_id),)
