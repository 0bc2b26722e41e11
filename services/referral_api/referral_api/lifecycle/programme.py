"""The programme each pathway asks of the person, and its deadlines.

The figures are documented, configurable defaults (docs/DOMAIN.md,
"Practice elsewhere"): adult out-of-court conditions usually run about 16 weeks (20 at
most); a youth offending service assesses within 10 working days of referral
and its out-of-court work runs up to about 12 weeks. Every deadline counts from
the current provider's acceptance of the case.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Any

from diversion_common.contracts import Intervention, Pathway
from referral_api.lifecycle.bank_holidays import BANK_HOLIDAYS, FIRST_YEAR, LAST_YEAR
from referral_api.lifecycle.pathway import SCHEME_TIME_ZONE


@dataclass(frozen=True)
class ProgrammeRules:
    adult_completion_weeks: int = 16
    youth_completion_weeks: int = 12
    youth_assessment_working_days: int | None = 10
    adult_assessment_working_days: int | None = None  # adults: no assessment deadline of its own

    def completion_weeks(self, pathway: Pathway) -> int:
        if pathway == Pathway.adult_deferred_summons:
            return self.adult_completion_weeks
        return self.youth_completion_weeks

    def assessment_working_days(self, pathway: Pathway) -> int | None:
        if pathway == Pathway.adult_deferred_summons:
            return self.adult_assessment_working_days
        return self.youth_assessment_working_days


DEFAULT_RULES = ProgrammeRules()

ASSESSMENT = "assessment"
YOUTH_SESSIONS = 6
ADULT_REQUIREMENTS = (
    ASSESSMENT,
    Intervention.online_intervention_1.value,
    Intervention.online_intervention_2.value,
    Intervention.follow_up.value,
)
YOUTH_REQUIREMENTS = (ASSESSMENT, *(f"session_{number}" for number in range(1, YOUTH_SESSIONS + 1)))

_ADULT_INTERVENTIONS = frozenset(
    {Intervention.online_intervention_1, Intervention.online_intervention_2, Intervention.follow_up}
)
_YOUTH_INTERVENTIONS = frozenset({Intervention.session})


def requirements(pathway: Pathway | None) -> tuple[str, ...]:
    if pathway is None:
        return ()
    if pathway == Pathway.adult_deferred_summons:
        return ADULT_REQUIREMENTS
    return YOUTH_REQUIREMENTS


def intervention_in_pathway(pathway: Pathway, intervention: Intervention | str) -> bool:
    allowed = _ADULT_INTERVENTIONS if pathway == Pathway.adult_deferred_summons else _YOUTH_INTERVENTIONS
    return Intervention(intervention) in allowed


def requirement_name(intervention: Intervention | str, session_number: int | None) -> str:
    """The requirement an intervention.completed fulfils: "online_intervention_1", "session_3"."""
    intervention = Intervention(intervention)
    if intervention is Intervention.session:
        return f"session_{session_number}"
    return intervention.value


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and not is_bank_holiday(day)


def is_bank_holiday(day: date) -> bool:
    """England and Wales share their bank holidays: the `holidays` library's, written out for the
    years around now (bank_holidays.py: the library loads every country to give one)."""
    if FIRST_YEAR <= day.year <= LAST_YEAR:
        return day in BANK_HOLIDAYS
    return day in _outside_written_years()


def library_bank_holidays(years: Iterable[int] | None = None) -> Any:
    """The `holidays` library's calendar for England and Wales: what bank_holidays.py is written from."""
    import holidays  # loads every country's module: only when asked

    return holidays.country_holidays("GB", subdiv="ENG", years=years)


@cache
def _outside_written_years() -> Any:
    return library_bank_holidays()


def add_working_days(start: date, n: int) -> date:
    """The n-th working day after ``start`` (``start`` itself does not count)."""
    if n < 0:
        raise ValueError("n must not be negative")
    day = start
    while n:
        day += timedelta(days=1)
        if is_working_day(day):
            n -= 1
    return day


def local_date(at: datetime) -> date:
    return at.astimezone(SCHEME_TIME_ZONE).date()


def end_of_day(day: date) -> datetime:
    """A due day lasts until 23:59:59 London time (never ambiguous: clocks change at 01:00-02:00)."""
    return datetime.combine(day, time(23, 59, 59), tzinfo=SCHEME_TIME_ZONE).astimezone(UTC)


def completion_due(pathway: Pathway, accepted_at: datetime, rules: ProgrammeRules = DEFAULT_RULES) -> datetime:
    return end_of_day(local_date(accepted_at) + timedelta(weeks=rules.completion_weeks(pathway)))


def assessment_due(
    pathway: Pathway, accepted_at: datetime, rules: ProgrammeRules = DEFAULT_RULES
) -> datetime | None:
    days = rules.assessment_working_days(pathway)
    if days is None:
        return None
    return end_of_day(add_working_days(local_date(accepted_at), days))
