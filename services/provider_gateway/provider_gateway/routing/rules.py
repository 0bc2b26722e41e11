"""Which provider gets a case: pure rules, no I/O.

Pathway and district choose the providers that may take the case. Among
several, one offering out-of-hours appointments is preferred when the person
asked for them, then the one with the fewest open cases; the name breaks ties
so the same facts always give the same answer.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass


@dataclass(frozen=True)
class Candidate:
    provider_id: uuid.UUID
    name: str
    pathways: frozenset[str]
    districts: frozenset[str]
    out_of_hours: bool
    active: bool
    open_cases: int


@dataclass(frozen=True)
class RoutingRequest:
    pathway: str
    district: str
    out_of_hours_wanted: bool
    declined_by: frozenset[uuid.UUID] = frozenset()


@dataclass(frozen=True)
class Decision:
    provider_id: uuid.UUID | None
    reason: str

    @property
    def routed(self) -> bool:
        return self.provider_id is not None


def choose_provider(request: RoutingRequest, candidates: list[Candidate]) -> Decision:
    eligible = [
        c for c in candidates
        if c.active and request.pathway in c.pathways and request.district in c.districts
        and c.provider_id not in request.declined_by
    ]
    if not eligible:
        declined = f" (besides {len(request.declined_by)} that declined it)" if request.declined_by else ""
        return Decision(None, f"no active provider serves {request.pathway} in {request.district}{declined}")
    if request.out_of_hours_wanted:
        out_of_hours = [c for c in eligible if c.out_of_hours]
        if out_of_hours:
            chosen = min(out_of_hours, key=_load_then_name)
            return Decision(chosen.provider_id, _reason(chosen, len(eligible), "offers out-of-hours appointments, "))
        chosen = min(eligible, key=_load_then_name)
        return Decision(chosen.provider_id, _reason(chosen, len(eligible), "none offers out-of-hours appointments; "))
    chosen = min(eligible, key=_load_then_name)
    return Decision(chosen.provider_id, _reason(chosen, len(eligible), ""))


def _load_then_name(candidate: Candidate) -> tuple[int, str]:
    return candidate.open_cases, candidate.name


def _reason(chosen: Candidate, eligible: int, preference: str) -> str:
    return f"{chosen.name}: {preference}least loaded ({chosen.open_cases} open) of {eligible} eligible"
