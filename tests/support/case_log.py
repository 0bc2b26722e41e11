"""A synthetic case log for the pure lifecycle tests: facts built as the services build them. No database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from pydantic import TypeAdapter

from diversion_common.contracts import Pathway, ProviderEvent
from referral_api.lifecycle import (
    GATEWAY_SOURCE,
    Fact,
    FactKind,
    ProgrammeRules,
    fold,
    police_source,
    provider_fact_from_event,
    yju_source,
)

ADULT, YOUTH = Pathway.adult_deferred_summons, Pathway.youth_community_resolution
P1, P2 = uuid.UUID(int=1), uuid.UUID(int=2)
POLICE, YJU, CASE = uuid.UUID(int=100), uuid.UUID(int=200), uuid.UUID(int=999)
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # a Monday, GMT
_EVENT = TypeAdapter(ProviderEvent)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


class CaseLog:
    """A synthetic case log; seq follows the order facts are added (arrival order)."""

    def __init__(self, pathway: Pathway = ADULT, *, when: datetime = T0, needs_yju: bool = False) -> None:
        self.facts: list[Fact] = []
        self.add(FactKind.referral_received, when, police_source(POLICE), {"pathway": pathway.value, "needs_yju": needs_yju})

    def add(self, kind: FactKind, when: datetime, source: str, data: dict, source_id: str | None = None) -> Fact:
        seq = len(self.facts) + 1
        fact = Fact(kind, when, seq, source, source_id or f"m-{seq}", data, T0 + timedelta(days=400, seconds=seq))
        self.facts.append(fact)
        return fact

    def yju(self, when: datetime, decision: str) -> Fact:
        return self.add(FactKind.yju_decided, when, yju_source(YJU), {"decision": decision})

    def routed(self, when: datetime, provider: uuid.UUID = P1) -> Fact:
        return self.add(FactKind.routed, when, GATEWAY_SOURCE, {"provider_id": str(provider), "reason": "covers the district"})

    def unroutable(self, when: datetime) -> Fact:
        return self.add(FactKind.unroutable, when, GATEWAY_SOURCE, {"reason": "no provider for the district"})

    def withdrew(self, when: datetime, reason: str = "no_further_action") -> Fact:
        return self.add(FactKind.withdrawn, when, police_source(POLICE), {"reason": reason, "note": None})

    def event(self, type_: str, when: datetime, provider: uuid.UUID = P1, **data) -> Fact:
        seq = len(self.facts) + 1
        event = _EVENT.validate_python({"type": type_, "data": {"case_id": str(CASE), "occurred_at": when, **data}})
        fact = provider_fact_from_event(event, provider, f"wh-{seq}", seq, T0 + timedelta(days=400, seconds=seq))
        self.facts.append(fact)
        return fact

    def book(self, appointment_id: str, when: datetime, starts_at: datetime, kind: str = "assessment", **extra) -> Fact:
        extra.setdefault("mode", "in_person")
        return self.event("appointment.booked", when, appointment_id=appointment_id, kind=kind, starts_at=starts_at, **extra)

    def state(self, rules: ProgrammeRules = ProgrammeRules()):
        return fold(self.facts, rules)
