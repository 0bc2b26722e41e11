"""Who is told of a breach request's steps, warnings and reminders, and what they are told.

Every message is thin (Standard Webhooks shape): ids, codes, a version and a link to read
the details with the receiver's own key. No personal data travels in them.
- The referring force's system: every step of a request (``breach_request.updated``) and
  every warning or reminder (``case.notice``).
- The court's or the YJU's system, once the officer has submitted the request:
  ``breach_request.submitted``, then ``breach_request.updated`` for each later step.
- The provider (through the gateway): warnings and deadline reminders.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlmodel import Session

from diversion_common.contracts import CaseNotice, Deadline, NoticeKind, Topic
from diversion_common.database import utcnow
from diversion_common.messaging import enqueue
from referral_api.cases.tables import Case
from referral_api.config import get_settings
from referral_api.lifecycle.breach_requests import Addressee, BreachStatus
from referral_api.lifecycle.fold import BreachRequestState
from referral_api.messaging.tables import OutboxMessage
from referral_api.police_callbacks.service import notify_recipient

BREACH_REQUEST_UPDATED = "breach_request.updated"
BREACH_REQUEST_SUBMITTED = "breach_request.submitted"
CASE_NOTICE = "case.notice"


def _link(path: str) -> str:
    return f"{get_settings().public_base_url.rstrip('/')}{path}"


def addressee_recipient(request: BreachRequestState, force: str) -> str:
    return f"court:{request.court}" if request.addressee is Addressee.court else f"yju:{force}"


def _envelope(event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"type": event_type, "timestamp": utcnow().isoformat(), "data": data}


def breach_request_changed(session: Session, case: Case, request: BreachRequestState) -> None:
    """A request was raised or took a step: the police are told; the court or YJU too once submitted."""
    link = _link(f"/v1/breach-requests/{request.id}")
    police = {
        "breach_request_id": str(request.id), "case_id": str(case.id), "police_reference": case.police_reference,
        "status": request.status.value, "rule": request.rule.value, "version": request.steps,
        "links": {"breach_request": link, "case": _link(f"/v1/referrals/{case.id}")},
    }
    notify_recipient(session, recipient=case.force, event_type=BREACH_REQUEST_UPDATED, payload=_envelope(BREACH_REQUEST_UPDATED, police), case_id=case.id)
    if request.submitted_at is None:
        return  # before the officer submits it, it is the police's alone
    event_type = BREACH_REQUEST_SUBMITTED if request.status is BreachStatus.submitted else BREACH_REQUEST_UPDATED
    addressee = {"breach_request_id": str(request.id), "status": request.status.value, "version": request.steps, "links": {"breach_request": link}}
    notify_recipient(session, recipient=addressee_recipient(request, case.force), event_type=event_type, payload=_envelope(event_type, addressee), case_id=case.id)


def case_notice(
    session: Session, case: Case, *, notice: NoticeKind, occurred_at: datetime, deadline: Deadline | None = None,
    due_at: datetime | None = None, appointment_id: str | None = None, breach_request_id: uuid.UUID | None = None,
) -> None:
    """A warning or a reminder: to the police, and (except the officer's own review) to the provider."""
    data = {
        "case_id": str(case.id), "police_reference": case.police_reference, "notice": notice.value,
        "deadline": deadline.value if deadline else None, "due_at": due_at.isoformat() if due_at else None,
        "appointment_id": appointment_id, "links": {"case": _link(f"/v1/referrals/{case.id}")},
    }
    if breach_request_id is not None:
        data["links"]["breach_request"] = _link(f"/v1/breach-requests/{breach_request_id}")
    notify_recipient(session, recipient=case.force, event_type=CASE_NOTICE, payload=_envelope(CASE_NOTICE, data), case_id=case.id)
    if deadline is Deadline.oic_review:
        return
    message = CaseNotice(case_id=case.id, notice=notice, deadline=deadline, due_at=due_at, appointment_id=appointment_id, occurred_at=occurred_at)
    enqueue(session, OutboxMessage(topic=Topic.notice.value, aggregate_id=case.id, payload=message.model_dump(mode="json")))
