"""Every transition of the case lifecycle, with no database."""

from datetime import date

import pytest

from referral_api.cases.lifecycle import (
    TERMINAL,
    TRANSITIONS,
    CaseEvent,
    CaseStatus,
    IllegalTransition,
    Pathway,
    age_on,
    intake_event,
    next_status,
    pathway_for,
)

ALLOWED = [
    (None, CaseEvent.referral_received, CaseStatus.awaiting_routing),
    (None, CaseEvent.referral_received_needing_yju, CaseStatus.awaiting_yju_decision),
    (CaseStatus.awaiting_yju_decision, CaseEvent.yju_approved, CaseStatus.awaiting_routing),
    (CaseStatus.awaiting_yju_decision, CaseEvent.yju_declined, CaseStatus.declined_by_yju),
    (CaseStatus.awaiting_routing, CaseEvent.routed, CaseStatus.routed),
    (CaseStatus.awaiting_routing, CaseEvent.routing_failed, CaseStatus.unroutable),
    (CaseStatus.unroutable, CaseEvent.routed, CaseStatus.routed),
    (CaseStatus.routed, CaseEvent.routed, CaseStatus.routed),
    (CaseStatus.routed, CaseEvent.routing_failed, CaseStatus.unroutable),
    (CaseStatus.routed, CaseEvent.provider_accepted, CaseStatus.accepted_by_provider),
    (CaseStatus.awaiting_yju_decision, CaseEvent.withdrawn, CaseStatus.withdrawn),
    (CaseStatus.awaiting_routing, CaseEvent.withdrawn, CaseStatus.withdrawn),
    (CaseStatus.routed, CaseEvent.withdrawn, CaseStatus.withdrawn),
    (CaseStatus.unroutable, CaseEvent.withdrawn, CaseStatus.withdrawn),
    (CaseStatus.accepted_by_provider, CaseEvent.withdrawn, CaseStatus.withdrawn),
]


@pytest.mark.parametrize(("status", "event", "expected"), ALLOWED)
def test_allowed_transition(status, event, expected):
    assert next_status(status, event) is expected


def test_the_table_holds_exactly_the_listed_transitions():
    assert {(s, e): t for s, e, t in ALLOWED} == TRANSITIONS


@pytest.mark.parametrize(
    ("status", "event"),
    [
        (s, e)
        for s in [None, *CaseStatus]
        for e in CaseEvent
        if (s, e) not in TRANSITIONS
    ],
)
def test_every_other_transition_is_refused(status, event):
    with pytest.raises(IllegalTransition):
        next_status(status, event)


@pytest.mark.parametrize("status", sorted(TERMINAL))
def test_terminal_statuses_take_no_event(status):
    for event in CaseEvent:
        with pytest.raises(IllegalTransition):
            next_status(status, event)


@pytest.mark.parametrize(
    ("born", "on", "age"),
    [
        (date(2008, 5, 10), date(2026, 5, 9), 17),
        (date(2008, 5, 10), date(2026, 5, 10), 18),
        (date(2008, 2, 29), date(2026, 2, 28), 17),
        (date(2008, 2, 29), date(2026, 3, 1), 18),
    ],
)
def test_age_on_counts_birthdays(born, on, age):
    assert age_on(born, on) == age


def test_pathway_turns_adult_on_the_eighteenth_birthday():
    born = date(2008, 5, 10)
    assert pathway_for(born, date(2026, 5, 9)) is Pathway.youth_community_resolution
    assert pathway_for(born, date(2026, 5, 10)) is Pathway.adult_deferred_summons


@pytest.mark.parametrize(
    ("pathway", "previous", "event"),
    [
        (Pathway.youth_community_resolution, 0, CaseEvent.referral_received),
        (Pathway.youth_community_resolution, 1, CaseEvent.referral_received_needing_yju),
        (Pathway.adult_deferred_summons, 0, CaseEvent.referral_received),
        (Pathway.adult_deferred_summons, 3, CaseEvent.referral_received),
    ],
)
def test_only_young_people_with_a_previous_diversion_wait_for_the_yju(pathway, previous, event):
    assert intake_event(pathway, previous) is event


@pytest.mark.parametrize(
    ("occurred_at", "local_date"),
    [
        ("2026-05-09T23:30:00+00:00", date(2026, 5, 10)),  # British Summer Time: already the 10th
        ("2026-01-09T23:30:00+00:00", date(2026, 1, 9)),  # GMT: still the 9th
        ("2026-06-10T00:30:00+01:00", date(2026, 6, 10)),
    ],
)
def test_the_encounter_date_is_the_date_where_it_happened(occurred_at, local_date):
    from datetime import datetime

    from referral_api.cases.lifecycle import encounter_date

    assert encounter_date(datetime.fromisoformat(occurred_at)) == local_date
