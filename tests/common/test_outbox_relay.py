"""The relay's claims: due messages, one per case at a time, never overtaking an earlier one."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlmodel import Session

from diversion_common.database import make_engine, utcnow
from diversion_common.messaging import OutboxRelay
from referral_api.messaging.tables import OutboxMessage


def never_called(_envelopes):  # claim_due sends nothing
    raise AssertionError("claiming must not send")


@pytest.fixture
def engine(fresh_database):
    engine = make_engine(fresh_database("referral_api"))
    yield engine
    engine.dispose()


def add(engine, aggregate: uuid.UUID, *, age_seconds: float, available_in: float = 0.0) -> uuid.UUID:
    now = utcnow()
    row = OutboxMessage(
        topic="case.routing_requested", aggregate_id=aggregate, payload={"case_id": str(aggregate)},
        created_at=now - timedelta(seconds=age_seconds), available_at=now + timedelta(seconds=available_in),
    )
    with Session(engine) as session:
        session.add(row)
        session.commit()
        return row.id


def test_one_message_per_case_per_batch_oldest_first(engine):
    case = uuid.uuid4()
    first = add(engine, case, age_seconds=2)
    add(engine, case, age_seconds=1)
    other = add(engine, uuid.uuid4(), age_seconds=1)
    relay = OutboxRelay(engine, OutboxMessage, never_called)
    assert [e.id for e in relay.claim_due()] == [first, other]


def test_a_later_message_waits_while_an_earlier_one_backs_off(engine):
    case = uuid.uuid4()
    add(engine, case, age_seconds=2, available_in=60)  # failed once, retrying later
    add(engine, case, age_seconds=1)
    relay = OutboxRelay(engine, OutboxMessage, never_called)
    assert relay.claim_due() == []


def test_a_claimed_message_is_leased_and_not_claimed_again(engine):
    add(engine, uuid.uuid4(), age_seconds=1)
    relay = OutboxRelay(engine, OutboxMessage, never_called, lease_seconds=30)
    assert len(relay.claim_due()) == 1
    assert relay.claim_due() == []


def test_a_message_the_peer_refuses_is_kept_with_its_reason_and_never_sent_again(engine):
    from diversion_common.messaging import BatchReceipt

    case = uuid.uuid4()
    refused_id = add(engine, case, age_seconds=2)
    later_id = add(engine, case, age_seconds=1)
    sent: list[uuid.UUID] = []
    outcomes: list[tuple[uuid.UUID, bool]] = []

    def peer(envelopes):
        sent.extend(e.id for e in envelopes)
        return [
            BatchReceipt(id=e.id, applied=e.id != refused_id, problem=None if e.id != refused_id else "no such case", refusal_code="unknown_case")
            for e in envelopes
        ]

    relay = OutboxRelay(engine, OutboxMessage, peer, on_outcome=lambda _s, e, r: outcomes.append((e.id, r.applied)))
    relay.relay_once()
    relay.relay_once()  # the refused one no longer holds back the later one
    relay.relay_once()

    assert sent == [refused_id, later_id]
    assert outcomes == [(refused_id, False), (later_id, True)]
    with Session(engine) as session:
        refused = session.get(OutboxMessage, refused_id)
        assert refused.refused_at is not None and refused.sent_at is None and refused.last_error == "no such case"
        assert session.get(OutboxMessage, later_id).sent_at is not None


def test_a_peer_that_cannot_be_reached_gets_the_message_again_later(engine):
    from diversion_common.messaging import DeliveryFailed

    message_id = add(engine, uuid.uuid4(), age_seconds=1)

    def unreachable(_envelopes):
        raise DeliveryFailed("ConnectError", retry_after=60)

    OutboxRelay(engine, OutboxMessage, unreachable).relay_once()
    with Session(engine) as session:
        row = session.get(OutboxMessage, message_id)
        assert row.sent_at is None and row.refused_at is None and row.attempts == 1
        assert row.available_at.replace(tzinfo=None) > utcnow().replace(tzinfo=None) + timedelta(seconds=50)


@pytest.mark.parametrize(("header", "wait"), [("²", None), ("9" * 400, 60.0), ("5", 5.0), ("soon", None)])
def test_any_retry_after_from_the_peer_is_read_safely(header, wait):
    import httpx

    from diversion_common.messaging import DeliveryFailed, MessageEnvelope, client_sender

    answer = httpx.Response(503, headers=[(b"Retry-After", header.encode("utf-8"))])
    send = client_sender(httpx.Client(base_url="http://peer.test", transport=httpx.MockTransport(lambda _r: answer)), "key")
    envelope = MessageEnvelope(id=uuid.uuid4(), topic="t", aggregate_id=uuid.uuid4(), payload={}, created_at=utcnow())
    with pytest.raises(DeliveryFailed) as failure:
        send([envelope])
    assert failure.value.retry_after == wait
