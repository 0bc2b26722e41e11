"""Age on the encounter date decides the pathway; a young person with a previous diversion waits for the YJU."""

from datetime import date, datetime

import pytest

from diversion_common.contracts import Pathway
from referral_api.lifecycle.pathway import age_on, encounter_date, needs_yju, pathway_for


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
    ("pathway", "previous", "waits"),
    [
        (Pathway.youth_community_resolution, 0, False),
        (Pathway.youth_community_resolution, 1, True),
        (Pathway.adult_deferred_summons, 0, False),
        (Pathway.adult_deferred_summons, 3, False),
    ],
)
def test_only_young_people_with_a_previous_diversion_wait_for_the_yju(pathway, previous, waits):
    assert needs_yju(pathway, previous) is waits


@pytest.mark.parametrize(
    ("occurred_at", "local_date"),
    [
        ("2026-05-09T23:30:00+00:00", date(2026, 5, 10)),  # British Summer Time: already the 10th
        ("2026-01-09T23:30:00+00:00", date(2026, 1, 9)),  # GMT: still the 9th
        ("2026-06-10T00:30:00+01:00", date(2026, 6, 10)),
    ],
)
def test_the_encounter_date_is_the_date_where_it_happened(occurred_at, local_date):
    assert encounter_date(datetime.fromisoformat(occurred_at)) == local_date
