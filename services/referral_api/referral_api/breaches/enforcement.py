"""Applying the breach rules (lifecycle.enforcement) to a case's log, in the caller's transaction.

Each thing due becomes a fact whose source id is the rule's own key for it, so however
many processes look at a case at once, each warning, reminder or breach request is
recorded once: the case row is locked, and the log's unique (source, source_id) stops a
second writer that got past the lock.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel import Session

from diversion_common.contracts import NoticeKind, Pathway
from referral_api.breaches import notifications
from referral_api.breaches.courts import court_for_district
from referral_api.breaches.projection import sync_request
from referral_api.case_log import service as case_log
from referral_api.cases.tables import Case
from referral_api.config import get_settings
from referral_api.lifecycle.breach_requests import Addressee
from referral_api.lifecycle.enforcement import Due, DueKind, assess, attendance_record, next_check_at, review_due, rules_for, warning_history
from referral_api.lifecycle.facts import RULES_SOURCE, FactKind
from referral_api.lifecycle.fold import CaseSnapshot, CaseState, state_of

# More than any case can need (withdraw, raise, warn, two reminders): a guard against a rule
# that never settles, not a limit anyone reaches.
_MAX_STEPS = 10


def enforce(
    session: Session, case: Case, now: datetime, *, snapshot: CaseSnapshot | None = None, state: CaseState | None = None
) -> tuple[CaseSnapshot, CaseState]:
    """Record whatever the breach rules say is due now; set the case's next check time. The final snapshot and state."""
    if snapshot is None or state is None:
        snapshot = case_log.snapshot_of(session, case.id)
        state = state_of(snapshot, case_log.programme_rules())
    rules = rules_for(state.pathway)
    for _ in range(_MAX_STEPS):
        dues = assess(state, now, rules)
        if not dues:
            break
        recorded = _record(session, case, state, dues[0], now)
        if recorded.duplicate:
            break  # already on the log: asking again would only find it again
        snapshot, state = recorded.snapshot, recorded.state
    case.next_deadline_at = next_check_at(state, rules)
    session.add(case)
    return snapshot, state


def _record(session: Session, case: Case, state: CaseState, due: Due, now: datetime) -> case_log.Recorded:
    recorded: list[case_log.Recorded] = []

    def add(kind: FactKind, data: dict) -> CaseState:
        recorded.append(case_log.record(
            session, case, kind=kind, occurred_at=now, source=RULES_SOURCE, source_id=f"{case.id}:{due.key}",
            data=data, apply_breach_rules=False,
        ))
        if recorded[-1].duplicate:
            raise _AlreadyRecorded
        return recorded[-1].state

    try:
        _record_due(session, case, state, due, now, add)
    except _AlreadyRecorded:
        pass  # nobody is told twice
    return recorded[-1]


class _AlreadyRecorded(Exception):
    pass


def _record_due(session: Session, case: Case, state: CaseState, due: Due, now: datetime, add) -> None:  # type: ignore[no-untyped-def]

    if due.kind is DueKind.breach:
        assert due.rule is not None and state.pathway is not None
        request_id = uuid.uuid4()
        adult = state.pathway is Pathway.adult_deferred_summons
        court = court_for_district(case.district, get_settings().district_courts).code if adult else None
        rules = rules_for(state.pathway)
        after = add(FactKind.breach_raised, {
            "breach_request_id": str(request_id), "rule": due.rule.value, "basis_key": due.key,
            "addressee": (Addressee.court if adult else Addressee.yju).value, "court": court,
            "evidence": list(due.evidence), "warnings": warning_history(state), "attendance": attendance_record(state),
            "deadlines": {
                "deadline": due.deadline.value if due.deadline else None, "due_at": due.due_at.isoformat() if due.due_at else None,
                "assessment_due": _iso(state.programme.assessment_due), "completion_due": _iso(state.programme.completion_due),
            },
            "review_due_at": review_due(now, rules).isoformat(),
        })
        _changed(session, case, after, request_id)
    elif due.kind is DueKind.withdraw:
        assert due.breach_request_id is not None and due.reason is not None
        after = add(FactKind.breach_withdrawn, {"breach_request_id": str(due.breach_request_id), "reason": due.reason.value, "note": None})
        _changed(session, case, after, due.breach_request_id)
    elif due.kind is DueKind.warning:
        add(FactKind.warning_issued, {"rule": due.rule.value if due.rule else None, "appointment_id": due.appointment_id, "evidence": list(due.evidence)})
        notifications.case_notice(session, case, notice=NoticeKind.warning, occurred_at=now, appointment_id=due.appointment_id)
    else:
        add(FactKind.reminder_sent, {
            "key": due.key, "deadline": due.deadline.value if due.deadline else None, "due_at": _iso(due.due_at),
            "breach_request_id": str(due.breach_request_id) if due.breach_request_id else None,
        })
        notifications.case_notice(
            session, case, notice=NoticeKind.reminder, occurred_at=now, deadline=due.deadline, due_at=due.due_at,
            breach_request_id=due.breach_request_id,
        )


def _changed(session: Session, case: Case, state: CaseState, request_id: uuid.UUID) -> None:
    request = state.breach_request(request_id)
    assert request is not None
    sync_request(session, case, request)
    notifications.breach_request_changed(session, case, request)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None



