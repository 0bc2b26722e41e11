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
