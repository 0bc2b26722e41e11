"""referral_api's answers to the gateway's messages, recorded in the relay's transaction.

Each message of the gateway is answered with the case as it then stands (a CaseProjection):
the gateway's mirror takes it from the answer, and referral_api does not announce a change of
status the gateway caused (referral_api/cases/announcements.py).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlmodel import Session

from diversion_common.contracts import CaseProjection, Topic
from diversion_common.messaging import BatchReceipt, MessageEnvelope
from provider_gateway.cases.mirror import take_view
from provider_gateway.events.service import record_outcome


def _mirror_answer(session: Session, _envelope: MessageEnvelope, answer: BatchReceipt) -> None:
    if answer.applied and answer.result is not None:
        take_view(session, CaseProjection.model_validate(answer.result))


ANSWERS: dict[str, Callable[[Session, MessageEnvelope, BatchReceipt], None]] = {
    Topic.provider_event.value: record_outcome,
    Topic.routed.value: _mirror_answer,
    Topic.unroutable.value: _mirror_answer,
}


def record_answer(session: Session, envelope: MessageEnvelope, answer: BatchReceipt) -> None:
    """The relay's hook: what the answer to each topic changes here."""
    handler = ANSWERS.get(envelope.topic)
    if handler is not None:
        handler(session, envelope, answer)
