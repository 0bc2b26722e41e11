"""Recording a fact on a case, with everything it causes, in the caller's transaction: the fact
and the case's snapshot (case_log), the effects of what it did (handlers.HANDLERS), then the
breach rules on the new state, whose own facts go the same way.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sqlmodel import Session

from diversion_common import actors

from referral_api.breaches.enforcement import fact_for
from referral_api.case_events.handlers import handle
from referral_api.case_log import service as case_log
from referral_api.case_log.service import Recorded
from referral_api.cases.tables import Case
from referral_api.lifecycle.enforcement import assess, next_check_at, rules_for
from referral_api.lifecycle.facts import RULES_SOURCE, Fact, FactKind
from referral_api.lifecycle.fold import CaseSnapshot, CaseState, state_of
from referral_api.lifecycle.rules import Refusal

# More than any case can need (withdraw, raise, warn, two reminders): a guard against a rule
# that never settles, not a limit anyone reaches.
_MAX_STEPS = 10


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
) -> Recorded:
    """Append a fact and act on it; then the breach rules see the new state (a second missed
    appointment raises a breach request in this same transaction). The final state.
    ``acted_by`` names who did it (diversion_common.actors), else the API client ``actor``, else the source;
    the facts the rules add name the same actor."""
    recorded = case_log.append(
        session, case, kind=kind, occurred_at=occurred_at, source=source, source_id=source_id, data=data, actor=actor,
        acted_by=acted_by, check=check,
    )
    if recorded.duplicate:
        return recorded
    assert recorded.recorded_at is not None
    handle(session, case, recorded.state, recorded.events, recorded.recorded_at)
    named = acted_by or (actors.client(actor) if actor else source)
    snapshot, state = apply_breach_rules(session, case, recorded.recorded_at, actor=named, snapshot=recorded.snapshot, state=recorded.state)
    return Recorded(case, state, snapshot, recorded.previous_status, duplicate=False, events=recorded.events, recorded_at=recorded.recorded_at)


def apply_breach_rules(
    session: Session, case: Case, now: datetime, *, actor: str, snapshot: CaseSnapshot | None = None, state: CaseState | None = None
) -> tuple[CaseSnapshot, CaseState]:
    """Record whatever the breach rules say is due now, each fact acted on like any other; set the
    case's next check time. Each due thing's source id is the rule's own key for it, so it is
    recorded once however many processes look at the case. ``actor`` is who set the rules going
    (the scheduler, an operator, or the caller whose fact made something due). The final snapshot and state."""
    if snapshot is None or state is None:
        snapshot = case_log.snapshot_of(session, case.id)
        state = state_of(snapshot, case_log.programme_rules())
    rules = rules_for(state.pathway)
    for _ in range(_MAX_STEPS):
        dues = assess(state, now, rules)
        if not dues:
            break
        kind, data = fact_for(session, dues[0], case, state, now)
        recorded = case_log.append(
            session, case, kind=kind, occurred_at=now, source=RULES_SOURCE, source_id=f"{case.id}:{dues[0].key}", data=data,
            acted_by=actor,
        )
        if recorded.duplicate:
            break  # already on the log: nobody is told twice
        handle(session, case, recorded.state, recorded.events, now)
        snapshot, state = recorded.snapshot, recorded.state
    case.next_deadline_at = next_check_at(state, rules)
    session.add(case)
    return snapshot, state
