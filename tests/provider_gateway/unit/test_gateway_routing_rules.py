"""The routing rules on their own: which provider gets a case, and why."""

from __future__ import annotations

import uuid

import pytest

from provider_gateway.routing.rules import Candidate, RoutingRequest, choose_provider

ADULT = "adult_deferred_summons"
YOUTH = "youth_community_resolution"


def candidate(
    name: str,
    *,
    pathways: tuple[str, ...] = (ADULT,),
    districts: tuple[str, ...] = ("reading",),
    out_of_hours: bool = False,
    active: bool = True,
    open_cases: int = 0,
) -> Candidate:
    return Candidate(
        provider_id=uuid.uuid5(uuid.NAMESPACE_DNS, f"{name}.provider.example"),
        name=name,
        pathways=frozenset(pathways),
        districts=frozenset(districts),
        out_of_hours=out_of_hours,
        active=active,
        open_cases=open_cases,
    )


def request(*, pathway: str = ADULT, district: str = "reading", out_of_hours: bool = False) -> RoutingRequest:
    return RoutingRequest(pathway=pathway, district=district, out_of_hours_wanted=out_of_hours)


def test_no_candidates_at_all_is_unroutable_with_a_reason():
    decision = choose_provider(request(), [])
    assert decision.provider_id is None
    assert not decision.routed
    assert decision.reason == f"no active provider serves {ADULT} in reading"


@pytest.mark.parametrize(
    "ineligible",
    [
        candidate("Wrong Pathway", pathways=(YOUTH,)),
        candidate("Wrong District", districts=("oxford", "slough")),
        candidate("Disabled", active=False),
    ],
    ids=["wrong-pathway", "wrong-district", "inactive"],
)
def test_an_ineligible_provider_is_never_chosen(ineligible):
    decision = choose_provider(request(), [ineligible])
    assert decision.provider_id is None
    assert not decision.routed
    assert "no active provider" in decision.reason
    assert ADULT in decision.reason and "reading" in decision.reason


def test_only_the_eligible_provider_is_chosen_among_ineligible_ones():
    # The ineligible ones are less loaded and sort first by name: only eligibility keeps them out.
    ineligible = [
        candidate("A Wrong Pathway", pathways=(YOUTH,)),
        candidate("B Wrong District", districts=("oxford",)),
        candidate("C Disabled", active=False),
    ]
    eligible = candidate("Z Eligible", open_cases=9)
    decision = choose_provider(request(), [*ineligible, eligible])
    assert decision.routed
    assert decision.provider_id == eligible.provider_id
    assert decision.reason.startswith("Z Eligible:")
    assert "of 1 eligible" in decision.reason


def test_a_provider_offering_out_of_hours_is_preferred_when_wanted():
    busy_evenings = candidate("Evening Service", out_of_hours=True, open_cases=7)
    idle_daytime = candidate("Daytime Service", open_cases=0)
    decision = choose_provider(request(out_of_hours=True), [idle_daytime, busy_evenings])
    assert decision.provider_id == busy_evenings.provider_id
    assert "offers out-of-hours appointments" in decision.reason
    assert "of 2 eligible" in decision.reason


def test_among_out_of_hours_providers_the_least_loaded_wins():
    busy = candidate("A Evenings", out_of_hours=True, open_cases=5)
    quiet = candidate("B Evenings", out_of_hours=True, open_cases=1)
    daytime = candidate("C Daytime", open_cases=0)
    decision = choose_provider(request(out_of_hours=True), [busy, daytime, quiet])
    assert decision.provider_id == quiet.provider_id


def test_when_no_provider_offers_out_of_hours_the_case_still_routes():
    busy = candidate("Busy Daytime", open_cases=4)
    quiet = candidate("Quiet Daytime", open_cases=2)
    decision = choose_provider(request(out_of_hours=True), [busy, quiet])
    assert decision.routed
    assert decision.provider_id == quiet.provider_id
    assert "none offers out-of-hours appointments" in decision.reason


def test_an_ineligible_out_of_hours_provider_does_not_count_as_offering_it():
    elsewhere = candidate("Evenings Elsewhere", out_of_hours=True, districts=("oxford",))
    disabled = candidate("Disabled Evenings", out_of_hours=True, active=False)
    daytime = candidate("Daytime", open_cases=3)
    decision = choose_provider(request(out_of_hours=True), [elsewhere, disabled, daytime])
    assert decision.provider_id == daytime.provider_id
    assert "none offers out-of-hours appointments" in decision.reason


def test_the_least_loaded_provider_wins():
    providers = [
        candidate("Alpha", open_cases=3),
        candidate("Bravo", open_cases=1),
        candidate("Charlie", open_cases=2),
    ]
    decision = choose_provider(request(), providers)
    assert decision.provider_id == providers[1].provider_id
    assert decision.reason == "Bravo: least loaded (1 open) of 3 eligible"


def test_the_name_breaks_a_tie_whatever_the_order():
    alpha = candidate("Alpha", open_cases=2)
    bravo = candidate("Bravo", open_cases=2)
    charlie = candidate("Charlie", open_cases=2)
    for order in ([alpha, bravo, charlie], [charlie, bravo, alpha], [bravo, charlie, alpha]):
        decision = choose_provider(request(), order)
        assert decision.provider_id == alpha.provider_id
        assert decision.reason.startswith("Alpha:")


def test_out_of_hours_is_not_preferred_when_not_wanted():
    evenings = candidate("Evening Service", out_of_hours=True, open_cases=3)
    daytime = candidate("Daytime Service", open_cases=1)
    decision = choose_provider(request(out_of_hours=False), [evenings, daytime])
    assert decision.provider_id == daytime.provider_id
    assert "out-of-hours" not in decision.reason


def test_the_same_facts_give_the_same_decision():
    providers = [candidate(f"Provider {i}", open_cases=i % 3, out_of_hours=i % 2 == 0) for i in range(8)]
    first = choose_provider(request(out_of_hours=True), providers)
    again = choose_provider(request(out_of_hours=True), list(reversed(providers)))
    assert first == again
