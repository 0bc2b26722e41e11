"""Properties of the case fold over generated logs: order, repetition and arrival do not matter.

Deterministic (derandomized, no example database) so a run is repeatable. No database.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from diversion_common.contracts import (
    TERMINAL_STATUSES,
    AbsenceCategory,
    AppointmentKind,
    AppointmentMode,
    AssessmentOutcome,
    CancelledBy,
    CaseStatus,
    ContactMethod,
    ContactOutcome,
    Pathway,
    ProviderClosureReason,
    ProviderEvent,
    Punctuality,
    RejectionReason,
)
from referral_api.lifecycle import (
    GATEWAY_SOURCE,
    Fact,
    FactKind,
    fold,
    police_source,
    provider_fact_from_event,
    yju_source,
)
from referral_api.lifecycle.programme import requirement_name, requirements

SETTINGS = settings(
    derandomize=True,
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

P1, P2 = uuid.UUID(int=1), uuid.UUID(int=2)
POLICE, YJU, CASE = uuid.UUID(int=100), uuid.UUID(int=200), uuid.UUID(int=999)
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
RECORDED = T0 + timedelta(days=400)
_EVENT = TypeAdapter(ProviderEvent)

APPOINTMENT_IDS = st.sampled_from(["a-1", "a-2", "a-3"])
INTERVENTIONS = [{"intervention": name} for name in ("online_intervention_1", "online_intervention_2", "follow_up")] + [
    {"intervention": "session", "session_number": n} for n in range(1, 7)
]
EVENT_DATA = {
    "referral.accepted": st.just({}),
    "referral.rejected": st.fixed_dictionaries({"reason": st.sampled_from(list(RejectionReason))}),
    "contact.attempted": st.fixed_dictionaries(
        {"method": st.sampled_from(list(ContactMethod)), "outcome": st.sampled_from(list(ContactOutcome))}
    ),
    "appointment.booked": st.fixed_dictionaries(
        {
            "appointment_id": APPOINTMENT_IDS,
            "kind": st.sampled_from(list(AppointmentKind)),
            "starts_at": st.integers(0, 3000).map(lambda hours: T0 + timedelta(hours=hours)),
            "mode": st.sampled_from(list(AppointmentMode)),
            "out_of_hours": st.booleans(),
        }
    ),
    "appointment.cancelled": st.fixed_dictionaries(
        {"appointment_id": APPOINTMENT_IDS, "cancelled_by": st.sampled_from(list(CancelledBy))}
    ),
    "appointment.attended": st.fixed_dictionaries(
        {"appointment_id": APPOINTMENT_IDS, "punctuality": st.sampled_from(list(Punctuality))}
    ),
    "appointment.missed": st.fixed_dictionaries(
        {"appointment_id": APPOINTMENT_IDS, "reason_category": st.sampled_from(list(AbsenceCategory)), "note": st.just("synthetic")}
    ),
    "assessment.completed": st.fixed_dictionaries({"outcome": st.sampled_from(list(AssessmentOutcome))}),
    "intervention.completed": st.sampled_from(INTERVENTIONS),
    "course.completed": st.just({}),
    "engagement.refused": st.just({}),
    "case.closed_by_provider": st.fixed_dictionaries({"reason": st.sampled_from(list(ProviderClosureReason))}),
}
# Appointments and contacts are the bulk of a real log; endings are rare.
WEIGHTED_TYPES = [
    *["appointment.booked"] * 4,
    *["appointment.attended", "appointment.missed", "appointment.cancelled"] * 2,
    *["contact.attempted", "intervention.completed"] * 2,
    "referral.accepted",
    "referral.rejected",
    "assessment.completed",
    "course.completed",
    "engagement.refused",
    "case.closed_by_provider",
]


def provider_events(providers: list[uuid.UUID]) -> st.SearchStrategy:
    return st.tuples(
        st.sampled_from(providers),
        st.sampled_from(WEIGHTED_TYPES).flatmap(lambda type_: EVENT_DATA[type_].map(lambda data: (type_, data))),
    )


# A spec is a fact without its time and seq: ("fact", kind, source, data) or ("event", provider, type, data).
def build(spec: tuple, occurred_at: datetime, seq: int) -> Fact:
    if spec[0] == "fact":
        _, kind, source, data = spec
        return Fact(kind, occurred_at, seq, source, f"m-{seq}", data, RECORDED + timedelta(seconds=seq))
    _, provider, type_, data = spec
    event = _EVENT.validate_python({"type": type_, "data": {"case_id": str(CASE), "occurred_at": occurred_at, **data}})
    return provider_fact_from_event(event, provider, f"wh-{seq}", seq, RECORDED + timedelta(seconds=seq))


def intake(pathway: Pathway, needs_yju: bool) -> tuple:
    return ("fact", FactKind.referral_received, police_source(POLICE), {"pathway": pathway.value, "needs_yju": needs_yju})


def routing(provider: uuid.UUID | None) -> tuple:
    if provider is None:
        return ("fact", FactKind.unroutable, GATEWAY_SOURCE, {"reason": "no provider"})
    return ("fact", FactKind.routed, GATEWAY_SOURCE, {"provider_id": str(provider), "reason": "covers the district"})


def timed(draw, specs: list[tuple], start_seq: int = 1, avoid: frozenset[int] = frozenset()) -> list[Fact]:
    """Distinct times, unrelated to arrival order: plenty of facts arrive late."""
    minutes = draw(
        st.lists(st.integers(0, 30_000).filter(lambda m: m not in avoid), min_size=len(specs), max_size=len(specs), unique=True)
    )
    return [build(spec, T0 + timedelta(minutes=m), start_seq + i) for i, (spec, m) in enumerate(zip(specs, minutes))]


@st.composite
def case_logs(draw, young_and_withdrawn: bool = False) -> list[Fact]:
    """A case's log; ``young_and_withdrawn``: always a young person the YJU must decide on, and
    mostly withdrawn (where the YJU's wait, the provider's end and the police's end meet)."""
    pathway = Pathway.youth_community_resolution if young_and_withdrawn else draw(st.sampled_from(list(Pathway)))
    needs_yju = young_and_withdrawn or (pathway is Pathway.youth_community_resolution and draw(st.booleans()))
    specs = [intake(pathway, needs_yju)]
    if needs_yju and draw(st.booleans()):
        specs.append(("fact", FactKind.yju_decided, yju_source(YJU), {"decision": draw(st.sampled_from(["divert", "decline"]))}))
    for provider in draw(st.lists(st.sampled_from([P1, P1, P2, None]), max_size=3)):
        specs.append(routing(provider))
    specs += [("event", provider, type_, data) for provider, (type_, data) in draw(st.lists(provider_events([P1, P1, P2]), max_size=20))]
    if draw(st.integers(0, 9)) < (9 if young_and_withdrawn else 1):
        specs.append(("fact", FactKind.withdrawn, police_source(POLICE), {"reason": "no_further_action", "note": None}))
    # Arrival order is the order of the specs, shuffled: the referral is not always first to arrive.
    return timed(draw, draw(st.permutations(specs)))


@st.composite
def completed_logs(draw) -> tuple[list[Fact], list[Fact]]:
    """A case P1 completed, and further provider events (any provider, any time) arriving after."""
    pathway = draw(st.sampled_from(list(Pathway)))
    specs = [intake(pathway, False), routing(P1)]
    specs += [("event", P1, type_, data) for _, (type_, data) in draw(st.lists(provider_events([P1]), max_size=10))]
    specs.append(("event", P1, "course.completed", {}))
    base = timed(draw, specs)
    more = [("event", provider, type_, data) for provider, (type_, data) in draw(st.lists(provider_events([P1, P2]), min_size=1, max_size=10))]
    used = frozenset(int((fact.occurred_at - T0).total_seconds() // 60) for fact in base)
    later = timed(draw, more, start_seq=len(base) + 1, avoid=used)
    if draw(st.booleans()):  # and a routing elsewhere after the end, e.g. a rejection the gateway acted on
        after_the_end = max(f.occurred_at for f in base + later) + timedelta(minutes=1)
        later.append(build(routing(P2), after_the_end, len(base) + len(later) + 1))
    return base, later


def without_seq(state):
    return replace(state, transitions=tuple(t[:3] for t in state.transitions))


# (1) Order and repetition ------------------------------------------------------------------


@SETTINGS
@given(st.data())
def test_any_order_and_any_redelivery_fold_to_the_same_state(data):
    facts = data.draw(case_logs())
    repeated = data.draw(st.lists(st.sampled_from(facts), max_size=5))
    redelivered = [replace(fact, seq=len(facts) + i + 1, recorded_at=fact.recorded_at + timedelta(days=1)) for i, fact in enumerate(repeated)]
    shuffled = data.draw(st.permutations(facts + redelivered + repeated))
    assert fold(shuffled) == fold(facts)


# (2) Arrival order -------------------------------------------------------------------------


@SETTINGS
@given(st.data())
def test_arrival_order_does_not_matter_when_times_differ(data):
    facts = data.draw(case_logs())
    # Reports about one appointment correct each other in the order they were made: arrival may
    # interleave them with anything else, but keeps their own order.
    arrival = data.draw(st.permutations(range(1, len(facts) + 1)))
    groups: dict[object, list[int]] = {}
    for index, fact in enumerate(facts):
        group = (fact.source, fact.data["appointment_id"]) if fact.kind.value.startswith("appointment.") else index
        groups.setdefault(group, []).append(index)
    seqs = list(arrival)
    for members in groups.values():
        for index, seq in zip(members, sorted(arrival[i] for i in members)):
            seqs[index] = seq
    rearrived = [replace(fact, seq=seq) for fact, seq in zip(facts, seqs)]
    assert without_seq(fold(rearrived)) == without_seq(fold(facts))


# (3) A completed case stays completed ---------------------------------------------------------


@SETTINGS
@given(completed_logs())
def test_a_completed_case_never_becomes_active_again(logs):
    base, more = logs
    assert fold(base).status is CaseStatus.completed
    state = fold(base + more)
    assert state.status is CaseStatus.completed
    statuses = [t.status for t in state.transitions]
    after = statuses[statuses.index(CaseStatus.completed) :]
    assert all(status in TERMINAL_STATUSES for status in after)


# (4) Counts match the facts -------------------------------------------------------------------


def last_word(reports: list[Fact]) -> Fact:
    """The report that decides an appointment: the last outcome reported; a booking after a
    cancellation (or before any outcome) reopens it, a booking after attended/missed does not."""
    decided = None
    for report in sorted(reports, key=lambda f: f.seq):
        if report.kind is not FactKind.appointment_booked or decided is None or decided.kind in (
            FactKind.appointment_booked, FactKind.appointment_cancelled
        ):
            decided = report
    return decided


def expected_programme(facts: list[Fact]) -> dict:
    """Worked out directly from the facts, the slow obvious way."""
    routings = sorted((f for f in facts if f.kind in (FactKind.routed, FactKind.unroutable)), key=lambda f: (f.occurred_at, f.seq))
    ends = [f.occurred_at for f in facts if f.kind is FactKind.withdrawn or (f.kind is FactKind.yju_decided and f.data["decision"] == "decline")]
    # While a young person's case awaits the YJU's decision (from the referral's time to the
    # decision's), nothing the provider reports ends it: a completion or closure reported before
    # then ends it until the referral's time, and again from the decision on.
    needs_yju = any(f.kind is FactKind.referral_received and f.data.get("needs_yju") for f in facts)
    referral_at = min(f.occurred_at for f in facts if f.kind is FactKind.referral_received)
    yju_decided = min((f.occurred_at for f in facts if f.kind is FactKind.yju_decided), default=None)

    def awaiting_yju(at: datetime) -> bool:
        return needs_yju and referral_at < at and (yju_decided is None or at < yju_decided)

    latest_routing = None
    for routing_fact in routings:  # a case ended at the routing's time is routed nowhere
        holder = uuid.UUID(latest_routing.data["provider_id"]) if latest_routing is not None and latest_routing.kind is FactKind.routed else None
        finished = [
            f.occurred_at for f in facts
            if holder is not None and f.provider_id == holder and f.kind in (FactKind.course_completed, FactKind.case_closed_by_provider)
        ]
        if any(end < routing_fact.occurred_at for end in ends) or (
            any(end < routing_fact.occurred_at for end in finished) and not awaiting_yju(routing_fact.occurred_at)
        ):
            continue
        latest_routing = routing_fact
    current = (
        uuid.UUID(latest_routing.data["provider_id"])
        if latest_routing is not None and latest_routing.kind is FactKind.routed
        else None
    )
    mine = [f for f in facts if current is not None and f.provider_id == current]
    about: dict[str, list[Fact]] = {}
    for f in mine:
        if f.kind.value.startswith("appointment."):
            about.setdefault(f.data["appointment_id"], []).append(f)
    latest = [last_word(fs) for fs in about.values()]
    pathway = next(Pathway(f.data["pathway"]) for f in facts if f.kind is FactKind.referral_received)
    done = {"assessment" for f in mine if f.kind is FactKind.assessment_completed} | {
        requirement_name(f.data["intervention"], f.data.get("session_number"))
        for f in mine
        if f.kind is FactKind.intervention_completed
    }
    return {
        "attended": sum(f.kind is FactKind.appointment_attended for f in latest),
        "cancelled": sum(f.kind is FactKind.appointment_cancelled for f in latest),
        "missed": {
            category: sum(f.kind is FactKind.appointment_missed and f.data["reason_category"] == category for f in latest)
            for category in AbsenceCategory
        },
        "booked": sum(f.kind is FactKind.appointment_booked for f in latest),
        "appointments": len(about),
        "contact_attempts": sum(f.kind is FactKind.contact_attempted for f in mine),
        "contacted": any(f.kind is FactKind.contact_attempted and f.data["outcome"] == "reached" for f in mine),
        "done": {name for name in requirements(pathway) if name in done},
        "provider_id": current,
    }


@SETTINGS
@given(st.one_of(case_logs(), case_logs(young_and_withdrawn=True)))
def test_counts_match_the_facts(facts):
    state = fold(facts)
    programme = state.programme
    expected = expected_programme(facts)
    assert state.provider_id == expected["provider_id"]
    assert programme.attended == expected["attended"]
    assert programme.cancelled == expected["cancelled"]
    assert programme.missed == expected["missed"]
    assert sum(a.outcome == "booked" for a in programme.appointments) == expected["booked"]
    assert len(programme.appointments) == expected["appointments"]
    assert programme.contact_attempts == expected["contact_attempts"]
    assert programme.contacted == expected["contacted"]
    assert set(programme.done) == expected["done"]
    assert set(programme.done) | set(programme.remaining) == set(programme.requirements)
    if programme.next_appointment is not None:
        assert programme.next_appointment.outcome == "booked"
        assert all(
            programme.next_appointment.starts_at <= a.starts_at for a in programme.appointments if a.outcome == "booked"
        )


def test_a_routing_after_an_early_completion_and_before_the_referral_counts_for_nothing():
    """Found by a random search: a completion reported before the referral's own time ends the
    case until then (awaiting the YJU starts at the referral), so a routing in that gap is
    ignored; a routing after the withdrawal is ignored too. The oracle agrees with the fold."""
    at = lambda minutes: T0 + timedelta(minutes=minutes)  # noqa: E731
    specs = [
        (intake(Pathway.youth_community_resolution, True), 5),
        (("fact", FactKind.yju_decided, yju_source(YJU), {"decision": "divert"}), 6),
        (routing(P1), 0),
        (("event", P1, "course.completed", {}), 1),
        (routing(P2), 2),
        (("fact", FactKind.withdrawn, police_source(POLICE), {"reason": "no_further_action", "note": None}), 4),
        (routing(P1), 7),
    ]
    facts = [build(spec, at(minutes), seq) for seq, (spec, minutes) in enumerate(specs, start=1)]
    assert fold(facts).provider_id == expected_programme(facts)["provider_id"] == P1


# (5) Version, and the history's shape ------------------------------------------------------------


@SETTINGS
@given(st.data())
def test_version_counts_distinct_facts_and_the_history_ends_at_the_status(data):
    facts = data.draw(case_logs())
    repeated = data.draw(st.lists(st.sampled_from(facts), max_size=5))
    state = fold(facts + [replace(fact, seq=len(facts) + i + 1) for i, fact in enumerate(repeated)])
    assert state.version == len({fact.key for fact in facts}) == len(facts)
    assert state.transitions[-1].status is state.status
    assert all(a.status != b.status for a, b in zip(state.transitions, state.transitions[1:]))
    assert [(t.at, t.seq) for t in state.transitions] == sorted((t.at, t.seq) for t in state.transitions)
    if state.status not in (CaseStatus.accepted_by_provider, CaseStatus.in_programme):
        assert state.next_deadline_at is None
    assert (state.ended_at is not None) == (state.status in TERMINAL_STATUSES)
