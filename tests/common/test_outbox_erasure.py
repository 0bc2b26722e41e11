"""An outbox message's payload is erased once the peer has answered it; its digest stays (issue 16, item 8)."""

from __future__ import annotations

import uuid

import pytest
from sqlmodel import Session

from diversion_common.database import make_engine
from diversion_common.erasure import sha256_of
from diversion_common.messaging import BatchReceipt, DeliveryFailed, OutboxRelay
from referral_api.messaging.tables import OutboxMessage

PAYLOAD = {"case_id": "c0ffee", "subject": {"given_name": "Alex", "family_name": "Synthetic"}}


@pytest.fixture
def engine(fresh_database):
    engine = make_engine(fresh_database("referral_api"))
    yield engine
    engine.dispose()


def add(engine) -> uuid.UUID:
    row = OutboxMessage(topic="case.routing_requested", aggregate_id=uuid.uuid4(), payload=dict(PAYLOAD))
    with Session(engine) as session:
        session.add(row)
        session.commit()
        return row.id


def stored(engine, message_id: uuid.UUID) -> OutboxMessage:
    with Session(engine) as session:
        row = session.get(OutboxMessage, message_id)
        assert row is not None
        return row


def answering(applied: bool):
    def peer(envelopes):
        assert all(e.payload == PAYLOAD for e in envelopes)  # sent whole, before it is erased
        return [BatchReceipt(id=e.id, applied=applied, problem=None if applied else "no such case") for e in envelopes]

    return peer


def test_a_sent_message_keeps_only_the_digest_of_its_payload(engine):
    message_id = add(engine)
    assert OutboxRelay(engine, OutboxMessage, answering(True)).relay_once() == 1

    row = stored(engine, message_id)
    assert row.sent_at is not None
    assert row.payload is None
    assert row.payload_sha256 == sha256_of(PAYLOAD)


def test_a_refused_message_keeps_its_reason_and_digest_but_not_its_payload(engine):
    message_id = add(engine)
    OutboxRelay(engine, OutboxMessage, answering(False)).relay_once()

    row = stored(engine, message_id)
    assert row.refused_at is not None and row.last_error == "no such case"
    assert row.payload is None and row.payload_sha256 == sha256_of(PAYLOAD)


def test_a_message_not_yet_answered_keeps_its_payload_to_be_sent_again(engine):
    message_id = add(engine)

    def unreachable(_envelopes):
        raise DeliveryFailed("ConnectError")

    OutboxRelay(engine, OutboxMessage, unreachable).relay_once()

    row = stored(engine, message_id)
    assert row.sent_at is None and row.payload == PAYLOAD and row.payload_sha256 is None
