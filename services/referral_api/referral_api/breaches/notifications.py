"""Who is told of a breach request's steps, warnings and reminders, and what they are told.

Every message is thin (Standard Webhooks shape): ids, codes, a version and a link to read
the details with the receiver's own key. No personal data travels in them.
- The referring force's system: every step of a request (``breach_request.updated``) and
  every warning or reminder (``case.notice``).
- The court's or the YJU's system, once the officer has submitted the request:
  ``breach_request.submitted``, then ``breach_request.updated`` for each later step and for
  each fact a provider reports after the submission while the request is open (``fact_reported``
  names it: kind, dates, appointment, whether it corrects the evidence).
- The provider (through the gateway): warnings and deadline reminders.
Every message is built from the contract's models (``BreachRequestMessage``, ``CaseNoticeToPolice``, ``CaseNotice``).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session

from diversion_common.contracts import (
    BreachRequestChanged,
    BreachRequestLinks,
    BreachRequestMessage,
    BreachRequestTopic,
    CaseNotice,
    CaseNoticeToPolice,
    Deadline,
    FactReported,
    NoticeKind,
    NoticeLinks,
    PoliceCaseNoticeData,
    PoliceBreachRequestChanged,
    ProviderEventType,
    Topic,
    webhook_payload,
)
from diversion_common.database import utcnow
from diversion_common.messaging import enqueue
from referral_api.breaches.views import reported_after_submission, version
from referral_api.case_log import service as case_log
from referral_api.cases.tables import Case
from referral_api.config import get_settings
from referral_api.lifecycle.breach_requests import Addressee, BreachStatus
from referral_api.lifecycle.facts import Fact
from referral_api.lifecycle.fold import BreachRequestState
from referral_api.messaging.tables import OutboxMessage
from referral_api.callbacks.service import notify_recipient

def _link(path: str) -> str:
    return f"{get_settings().public_base_url.rstrip('/')}{path}"


def addressee_recipient(request: BreachRequestState, force: str) -> str:
    return f"court:{request.court}" if request.addressee is Addressee.court else f"yju:{force}"


def breach_request_changed(
    session: Session, case: Case, request: BreachRequestState, facts: Sequence[Fact] | None = None,
    fact_reported: FactReported | None = None,
) -> None:
    """A request was raised, took a step, or a fact was reported after its submission: the police are
    told; the court or YJU too once it is submitted. ``facts``: those recorded since its submission, if the caller has them."""
    facts = facts if facts is not None else case_log.facts_since_submission(session, case.id, request)
    link = _link(f"/v1/breach-requests/{request.id}")
    common = {"breach_request_id": request.id, "status": request.status, "version": version(request, facts), "fact_reported": fact_reported}
    police = PoliceBreachRequestChanged(
        **common, case_id=case.id, police_reference=case.police_reference, rule=request.rule,
        links=BreachRequestLinks(breach_request=link, case=_link(f"/v1/referrals/{case.id}")),
    )
    _send(session, case, case.force, BreachRequestTopic.updated, police)
    if request.submitted_at is None:
        return  # before the officer submits it, it is the police's alone
    topic = BreachRequestTopic.submitted if request.status is BreachStatus.submitted and fact_reported is None else BreachRequestTopic.updated
    _send(session, case, addressee_recipient(request, case.force), topic, BreachRequestChanged(**common, links=BreachRequestLinks(breach_request=link)))


def _send(session: Session, case: Case, recipient: str, topic: BreachRequestTopic, data: BreachRequestChanged) -> None:
    message = BreachRequestMessage(type=topic, timestamp=utcnow(), data=data)
    notify_recipient(session, recipient=recipient, event_type=topic.value, payload=message.model_dump(mode="json", exclude_none=True), case_id=case.id)


def fact_reported(session: Session, case: Case, request: BreachRequestState, key: tuple[str, str]) -> None:
    """A provider's fact was recorded after the request's submission: if it is one the request's
    readers weigh, the request's version moves and they are told of it."""
    facts = case_log.facts_since_submission(session, case.id, request)
    for fact, corrects in reported_after_submission(request, facts):
        if fact.key == key:
            reported = FactReported(
                fact=ProviderEventType(fact.kind.value), occurred_at=fact.occurred_at, reported_at=fact.recorded_at,
                appointment_id=fact.data.get("appointment_id"), corrects_evidence=corrects,
            )
            breach_request_changed(session, case, request, facts, reported)


def case_notice(
    session: Session, case: Case, *, notice: NoticeKind, occurred_at: datetime, deadline: Deadline | None = None,
    due_at: datetime | None = None, appointment_id: str | None = None, breach_request_id: uuid.UUID | None = None,
) -> None:
    """A warning or a reminder: to the police, and (except the officer's own review) to the provider."""
    links = NoticeLinks(
        case=_link(f"/v1/referrals/{case.id}"),
        breach_request=_link(f"/v1/breach-requests/{breach_request_id}") if breach_request_id is not None else None,
    )
    to_police = CaseNoticeToPolice(timestamp=utcnow(), data=PoliceCaseNoticeData(
        case_id=case.id, police_reference=case.police_reference, notice=notice, deadline=deadline, due_at=due_at,
        appointment_id=appointment_id, links=links,
    ))
    notify_recipient(session, recipient=case.force, event_type=to_police.type, payload=webhook_payload(to_police), case_id=case.id)
    if deadline is Deadline.oic_review:
        return
    message = CaseNotice(case_id=case.id, notice=notice, deadline=deadline, due_at=due_at, appointment_id=appointment_id, occurred_at=occurred_at)
    enqueue(session, OutboxMessage(topic=Topic.notice.value, aggregate_id=case.id, payload=message.model_dump(mode="json")))
