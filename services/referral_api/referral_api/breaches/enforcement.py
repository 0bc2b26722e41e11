"""The fact each thing the breach rules say is due (lifecycle.enforcement) is recorded as.

Recording it, and acting on it, is case_events.recording's; here only what the fact says: a
breach request's addressee, court, evidence, warnings, attendance and deadlines, frozen when raised.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlmodel import Session

from diversion_common.contracts import Pathway
from referral_api.cases.tables import Case
from referral_api.lifecycle.breach_requests import Addressee
from referral_api.lifecycle.enforcement import Due, DueKind, attendance_record, review_due, rules_for, warning_history
from referral_api.lifecycle.facts import FactKind
from referral_api.lifecycle.fold import CaseState
from referral_api.reference.service import court_of_district


def fact_for(session: Session, due: Due, case: Case, state: CaseState, now: datetime) -> tuple[FactKind, dict[str, Any]]:
    if due.kind is DueKind.breach:
        assert due.rule is not None and state.pathway is not None
        adult = state.pathway is Pathway.adult_deferred_summons
        court = court_of_district(session, case.district) if adult else None  # the district's court now (reference data)
        return FactKind.breach_raised, {
            "breach_request_id": str(uuid.uuid4()), "rule": due.rule.value, "basis_key": due.key,
            "addressee": (Addressee.court if adult else Addressee.yju).value, "court": court,
            "evidence": list(due.evidence), "warnings": warning_history(state), "attendance": attendance_record(state),
            "deadlines": {
                "deadline": due.deadline.value if due.deadline else None, "due_at": _iso(due.due_at),
                "assessment_due": _iso(state.programme.assessment_due), "completion_due": _iso(state.programme.completion_due),
            },
            "review_due_at": review_due(now, rules_for(state.pathway)).isoformat(),
        }
    if due.kind is DueKind.withdraw:
        assert due.breach_request_id is not None and due.reason is not None
        return FactKind.breach_withdrawn, {"breach_request_id": str(due.breach_request_id), "reason": due.reason.value, "note": None}
    if due.kind is DueKind.warning:
        return FactKind.warning_issued, {
            "rule": due.rule.value if due.rule else None, "appointment_id": due.appointment_id, "evidence": list(due.evidence),
        }
    return FactKind.reminder_sent, {
        "key": due.key, "deadline": due.deadline.value if due.deadline else None, "due_at": _iso(due.due_at),
        "breach_request_id": str(due.breach_request_id) if due.breach_request_id else None,
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
