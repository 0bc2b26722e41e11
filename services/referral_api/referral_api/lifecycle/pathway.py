"""Which pathway a person takes: decided once, at intake, from age on the encounter date."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from diversion_common.contracts import Pathway

ADULT_AGE = 18

# The scheme runs in England: dates (encounter, due days) are dates in London.
SCHEME_TIME_ZONE = ZoneInfo("Europe/London")


def age_on(date_of_birth: date, on: date) -> int:
    had_birthday = (on.month, on.day) >= (date_of_birth.month, date_of_birth.day)
    return on.year - date_of_birth.year - (0 if had_birthday else 1)


def encounter_date(occurred_at: datetime) -> date:
    """The date of the encounter where it happened: 23:30 UTC on 9 May is 10 May in summer."""
    return occurred_at.astimezone(SCHEME_TIME_ZONE).date()


def pathway_for(date_of_birth: date, encounter_date: date) -> Pathway:
    """Age on the date of the encounter decides the pathway."""
    if age_on(date_of_birth, encounter_date) < ADULT_AGE:
        return Pathway.youth_community_resolution
    return Pathway.adult_deferred_summons


def needs_yju(pathway: Pathway, previous_diversions: int) -> bool:
    """A young person with a previous diversion waits for the Youth Justice Unit's decision (seed)."""
    return pathway == Pathway.youth_community_resolution and previous_diversions > 0
