"""Recording a fact on a case's log and keeping the case's projection in step.

Everything here runs in the caller's transaction: the fact, the projection row
(status, version, next deadline) and the messages a change causes commit
together, or not at all. The caller holds the case row locked.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from diversion_common import actors
from diversion_common.contracts import CaseStatus
from diversion_common.database import as_utc, utcnow
from referral_api.case_log.tables import CaseFact
from referral_api.cases.announcements import announce
from referral_api.cases.tables import Case
from referral_api.config import get_settings
from referral_api.lifecycle.facts import GATEWAY_SOURCE, Fact, FactKind, police_source, provider_source, yju_source  # noqa: F401 (re-exported)
from referral_api.lifecycle.fold import CaseState, fold
from referral_api.lifecycle.programme import ProgrammeRules
from referral_api.lifecycle.rules import Refusal


class FactRefused(Exception):
    """The fact cannot be recorded on this case (e.g. an appointment never booked)."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.detail)
        self.refusal = refusal


@dataclass(frozen=True)
class Recorded:
    case: Case
    state: CaseState
    previous_status: CaseStatus | None
    duplicate: bool

    @property
    def status_changed(self) -> bool:
        return not self.duplicate and self.state.status != self.previous_status


def programme_rules() -> ProgrammeRules:
    settings = get_settings()
    return ProgrammeRules(
        adult_completion_weeks=settings.adult_completion_weeks,
        youth_completion_weeks=settings.youth_completion_weeks,
        youth_assessment_working_days=settings.youth_assessment_working_days,
    )


def _to_fact(row: CaseFact) -> Fact:
    return Fact(
        kind=FactKind(row.kind),
        occurred_at=as_utc(row.occurred_at),
        seq=row.seq,
        source=row.source,
        source_id=row.source_id,
        data=row.data,
        recorded_at=as_utc(row.recorded_at),
    )


def facts_of(session: Session, case_id: uuid.UUID) -> list[Fact]:
    rows = session.scalars(select(CaseFact).where(CaseFact.case_id == case_id).order_by(CaseFact.seq))  # type: ignore[arg-type]
    return [_to_fact(row) for row in rows]


def fold_facts(facts: list[Fact]) -> CaseState:
    return fold(facts, programme_rules())


def state_of(session: Session, case_id: uuid.UUID) -> CaseState:
    return fold_facts(facts_of(session, case_id))


def existing_fact(session: Session, source: str, source_id: str) -> CaseFact | None:
    return session.scalars(select(CaseFact).where(CaseFact.source == source, CaseFact.source_id == source_id)).first()


def record(
    session: Session,
    case: Case,
    *,
    kind: FactKind,
    occurred_at: datetime,
    source: str,
    source_id: str,
    data: Mapping[str, Any],
    actor: uuid.UUID | None = None,
    acted_by: str | None = None,
    check: Callable[[CaseState, Fact], Refusal | None] | None = None,
    apply_breach_rules: bool = True,
) -> Recorded:
    """Append a fact (a repeat from the same source changes nothing) and re-fold the case.

    Then the breach rules see the new state (a second missed appointment raises a breach
    request in this same transaction); the facts they add are recorded without it.
    The fact names its actor: ``acted_by``, else the API client ``actor``, else its source.
    """
    facts = facts_of(session, case.id)
    rules = programme_rules()
    before = fold(facts, rules) if facts else None
    if any(f.source == source and f.source_id == source_id for f in facts):
        assert before is not None
        return Recorded(case, before, before.status, duplicate=True)
    now = utcnow()
    fact = Fact(
        kind=kind,
        occurred_at=as_utc(occurred_at),
        seq=(facts[-1].seq if facts else 0) + 1,
        source=source,
        source_id=source_id,
        data=dict(data),
        recorded_at=now,
    )
    if check is not None and before is not None:
        refusal = check(before, fact)
        if refusal is not None:
            raise FactRefused(refusal)
    after = fold([*facts, fact], rules)
    named = acted_by or (actors.client(actor) if actor else source)
    session.add(
        CaseFact(
            case_id=case.id, seq=fact.seq, kind=kind.value, occurred_at=fact.occurred_at, recorded_at=now,
            source=source, source_id=source_id, actor_client_id=actor, data=dict(data),
            actor=named,
        )
    )
    previous = before.status if before else None
    case.status = after.status.value
    case.version = after.version
    case.next_deadline_at = after.next_deadline_at
    case.updated_at = now
    session.add(case)
    announce(session, case, after, previous, fact)
    if apply_breach_rules:
        from referral_api.breaches.enforcement import enforce  # it records through this module

        after = enforce(session, case, now, facts=[*facts, fact], state=after, actor=named)
    return Recorded(case, after, previous, duplicate=False)
