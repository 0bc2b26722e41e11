"""The case lifecycle: statuses, the events that move a case, and the rules.

Pure Python: no I/O, no framework. Services ask ``next_status`` and persist
what it answers; an event that does not apply raises ``IllegalTransition``.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo
from enum import StrEnum


class Pathway(StrEnum):
    youth_community_resolution = "youth_community_resolution"
    adult_deferred_summons = "adult_deferred_summons"


ADULT_AGE = 18


def age_on(date_of_birth: date, on: date) -> int:
    had_birthday = (on.month, on.day) >= (date_of_birth.month, date_of_birth.day)
    return on.year - date_of_birth.year - (0 if had_birthday else 1)


SCHEME_TIME_ZONE = ZoneInfo("Europe/London")


def encounter_date(occurred_at: datetime) -> date:
    """The date of the encounter where it happened: 23:30 UTC on 9 May is 10 May in summer."""
    return occurred_at.astimezone(SCHEME_TIME_ZONE).date()


def pathway_for(date_of_birth: date, encounter_date: date) -> Pathway:
    """Age on the date of the encounter decides the pathway."""
    if age_on(date_of_birth, encounter_date) < ADULT_AGE:
        return Pathway.youth_community_resolution
    return Pathway.adult_deferred_summons


class CaseStatus(StrEnum):
    awaiting_yju_decision = "awaiting_yju_decision"
    awaiting_routing = "awaiting_routing"
    routed = "routed"
    unroutable = "unroutable"
    accepted_by_provider = "accepted_by_provider"
    declined_by_yju = "declined_by_yju"
    withdrawn = "withdrawn"


class CaseEvent(StrEnum):
    referral_received = "referral_received"
    referral_received_needing_yju = "referral_received_needing_yju"
    yju_approved = "yju_approved"
    yju_declined = "yju_declined"
    routed = "routed"
    routing_failed = "routing_failed"
    provider_accepted = "provider_accepted"
    withdrawn = "withdrawn"


TERMINAL = frozenset({CaseStatus.declined_by_yju, CaseStatus.withdrawn})

# (current status, event) -> next status. ``None`` stands for "no case yet".
TRANSITIONS: dict[tuple[CaseStatus | None, CaseEvent], CaseStatus] = {
    (None, CaseEvent.referral_received): CaseStatus.awaiting_routing,
    (None, CaseEvent.referral_received_needing_yju): CaseStatus.awaiting_yju_decision,
    (CaseStatus.awaiting_yju_decision, CaseEvent.yju_approved): CaseStatus.awaiting_routing,
    (CaseStatus.awaiting_yju_decision, CaseEvent.yju_declined): CaseStatus.declined_by_yju,
    (CaseStatus.awaiting_routing, CaseEvent.routed): CaseStatus.routed,
    (CaseStatus.awaiting_routing, CaseEvent.routing_failed): CaseStatus.unroutable,
    (CaseStatus.unroutable, CaseEvent.routed): CaseStatus.routed,
    # A provider that rejects the case passes it on: to the next provider, or to nobody.
    (CaseStatus.routed, CaseEvent.routed): CaseStatus.routed,
    (CaseStatus.routed, CaseEvent.routing_failed): CaseStatus.unroutable,
    (CaseStatus.routed, CaseEvent.provider_accepted): CaseStatus.accepted_by_provider,
    **{
        (status, CaseEvent.withdrawn): CaseStatus.withdrawn
        for status in CaseStatus
        if status not in TERMINAL
    },
}


class IllegalTransition(Exception):
    def __init__(self, status: CaseStatus | None, event: CaseEvent) -> None:
        super().__init__(f"{event.value} does not apply to a case in status {status}")
        self.status = status
        self.event = event


def next_status(status: CaseStatus | None, event: CaseEvent) -> CaseStatus:
    try:
        return TRANSITIONS[(status, event)]
    except KeyError:
        raise IllegalTransition(status, event) from None


def intake_event(pathway: Pathway, previous_diversions: int) -> CaseEvent:
    """A young person with a previous diversion waits for the Youth Justice Unit."""
    if pathway is Pathway.youth_community_resolution and previous_diversions > 0:
        return CaseEvent.referral_received_needing_yju
    return CaseEvent.referral_received


def needs_routing(status: CaseStatus) -> bool:
    return status is CaseStatus.awaiting_routing
