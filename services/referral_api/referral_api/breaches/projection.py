"""Keeping a breach request's row in step with its facts (same transaction)."""

from __future__ import annotations

from sqlmodel import Session

from referral_api.breaches.tables import BreachRequestRow
from referral_api.cases.tables import Case
from referral_api.lifecycle.fold import BreachRequestState


def sync_request(session: Session, case: Case, request: BreachRequestState) -> BreachRequestRow:
    row = session.get(BreachRequestRow, request.id) or BreachRequestRow(
        id=request.id, case_id=case.id, force=case.force, addressee=request.addressee.value, court=request.court,
        rule=request.rule.value, status=request.status.value, raised_at=request.raised_at,
    )
    row.status = request.status.value
    row.review_due_at = request.review_due_at
    row.submitted_at = request.submitted_at
    row.updated_at = request.updated_at
    row.version = request.steps
    session.add(row)
    return row
