"""referral_api's answers to the gateway's messages, recorded in the relay's transaction.

Each message of the gateway is answered with the case as it then stands (a CaseProjection):
the gateway's mirror takes it from the answer, and referral_api does not announce a change of
status the gateway caused (referral_api/cases/announcements.py).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlmodel import Session

from diversion_common.contracts import TERMINAL_STATUSES, CaseProjection, Topic
from diversion_common.messaging import BatchReceipt, MessageEnvelope
from provider_gateway.cases.mirror import mirror, mirror_open_view
from provider_gateway.cases.tables import GatewayCase
from provider_gateway.events.service import record_outcome


def _mirror_answer(session: Session, _envelope: MessageEnvelope, answer: BatchReceipt) -> None:
    if not answer.applied or answer.result is None:
        return
    projection = CaseProjection.model_validate(answer.result)
    if projection.status not in TERMINAL_STATUSES:
        # The usual answer (the case routed, or unroutable): one conditional UPDATE, as for an event's
        # answer, not a locked load of the whole row (the person's details decoded) and a flush.
        mirror_open_view(session, projection.case_id, status=projection.status, version=projection.version, programme=projection.programme)
        return
    case = session.get(GatewayCase, projection.case_id, with_for_update=True)
    if case is not None:
        mirror(session, case, status=projection.status, version=projection.version, programme=projection.programme)


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
