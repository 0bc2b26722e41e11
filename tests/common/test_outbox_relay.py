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


# --- a failed pass gives its claims back; a pass fills its batch with what is sendable --------


class Peer:
    """The other service's inbox: applies each message id once, answers a repeat as a duplicate."""

    def __init__(self) -> None:
        self.applied: list[tuple[uuid.UUID, uuid.UUID]] = []  # (case, message), in the order applied
        self.received: list[uuid.UUID] = []

    def __call__(self, envelopes):
        from diversion_common.messaging import BatchReceipt

        receipts = []
        seen = {message for _case, message in self.applied}
        for envelope in envelopes:
            self.received.append(envelope.id)
            duplicate = envelope.id in seen
            if not duplicate:
                self.applied.append((envelope.aggregate_id, envelope.id))
                seen.add(envelope.id)
            receipts.append(BatchReceipt(id=envelope.id, applied=True, duplicate=duplicate))
        return receipts

    def applied_for(self, case: uuid.UUID) -> list[uuid.UUID]:
        return [message for c, message in self.applied if c == case]


class Outage:
    """Every statement on the engine fails while ``down``, as when the database server is gone."""

    def __init__(self, engine) -> None:
        from sqlalchemy import event

        self.down = False
        event.listen(engine, "before_cursor_execute", self._check)

    def _check(self, *_args, **_kwargs):
        from sqlalchemy.exc import OperationalError

        if self.down:
            raise OperationalError("SELECT 1", {}, ConnectionRefusedError("the database server is gone"))


def unsent(engine) -> int:
    from sqlalchemy import func, select

    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.sent_at.is_(None)))


@pytest.mark.parametrize("failure", ["database down after the peer applied", "peer and database down"])
def test_a_pass_that_fails_leaves_nothing_leased_and_the_next_pass_sends_at_once(engine, failure):
    from diversion_common.messaging import DeliveryFailed

    case, other = uuid.uuid4(), uuid.uuid4()
    first, second = add(engine, case, age_seconds=3), add(engine, case, age_seconds=2)
    lone = add(engine, other, age_seconds=1)
    outage, peer = Outage(engine), Peer()

    def blip(envelopes):
        if failure == "database down after the peer applied":
            receipts = peer(envelopes)
            outage.down = True  # the peer applied them, but their answers cannot be recorded
            return receipts
        outage.down = True  # the peer is unreachable and the failure cannot be recorded either
        raise DeliveryFailed("ConnectError")

    relay = OutboxRelay(engine, OutboxMessage, blip, lease_seconds=30)
    with pytest.raises(Exception, match="database server is gone"):
        relay.relay_once()
    with pytest.raises(Exception, match="database server is gone"):
        relay.relay_once()  # still down: this pass fails too, and still has the claims to give back

    outage.down = False
    relay.send = peer
    assert relay.relay_once() == 2  # at once, not after the 30 s lease
    assert relay.relay_once() == 1
    assert relay.relay_once() == 0
    assert unsent(engine) == 0
    assert peer.applied_for(case) == [first, second]  # the case's order kept
    assert peer.applied_for(other) == [lone]
    if failure == "database down after the peer applied":
        assert peer.received == [first, lone, first, lone, second]  # sent again under the same ids: the inbox drops them


def lease_as_a_dead_relay(engine, message_id: uuid.UUID, seconds: float = 30) -> None:
    with Session(engine) as session:
        row = session.get(OutboxMessage, message_id)
        row.available_at = utcnow() + timedelta(seconds=seconds)
        session.commit()


def test_a_pass_sends_other_cases_when_the_oldest_due_messages_wait_on_a_dead_relays_lease(engine):
    # Five cases whose first message a killed relay holds leased: their 50 later messages are the
    # oldest due, and none may go. Ten other cases, written after, have one message each.
    stuck = [uuid.uuid4() for _ in range(5)]
    stuck_messages = {case: [] for case in stuck}
    for position in range(11):
        for case in stuck:
            stuck_messages[case].append(add(engine, case, age_seconds=1000 - position))
    for case in stuck:
        lease_as_a_dead_relay(engine, stuck_messages[case][0])
    free = {uuid.uuid4(): None for _ in range(10)}
    for case in free:
        free[case] = add(engine, case, age_seconds=10)

    peer = Peer()
    relay = OutboxRelay(engine, OutboxMessage, peer, batch_size=50)
    assert relay.relay_once() == 10  # one pass: every other case's message
    assert sorted(map(str, (m for _c, m in peer.applied))) == sorted(map(str, free.values()))
    assert relay.relay_once() == 0  # the stuck cases wait for their first message

    for case in stuck:  # the dead relay's lease runs out
        lease_as_a_dead_relay(engine, stuck_messages[case][0], seconds=-1)
    while relay.relay_once():
        pass
    assert unsent(engine) == 0
    for case in stuck:
        assert peer.applied_for(case) == stuck_messages[case]  # each case in its order


def test_a_full_batch_of_one_busy_case_does_not_hold_back_the_others(engine):
    busy = uuid.uuid4()
    busy_messages = [add(engine, busy, age_seconds=100 - i) for i in range(8)]
    others = [add(engine, uuid.uuid4(), age_seconds=1) for _ in range(3)]
    relay = OutboxRelay(engine, OutboxMessage, never_called, batch_size=4)
    assert [e.id for e in relay.claim_due()] == [busy_messages[0], *others]  # one per case, the batch filled


def test_cases_stay_in_order_through_dead_leases_and_failed_passes(engine):
    from diversion_common.messaging import DeliveryFailed

    cases = [uuid.uuid4() for _ in range(12)]
    written = {case: [] for case in cases}
    for position in range(5):
        for case in cases:
            written[case].append(add(engine, case, age_seconds=500 - position))
    for case in cases[:4]:
        lease_as_a_dead_relay(engine, written[case][0])

    outage, peer = Outage(engine), Peer()
    passes = 0

    def flaky(envelopes):
        receipts = peer(envelopes)
        if passes % 3 == 1:
            outage.down = True  # applied, but the answers are lost with the database
        elif passes % 3 == 2:
            raise DeliveryFailed("ConnectError", retry_after=0)
        return receipts

    relay = OutboxRelay(engine, OutboxMessage, flaky, batch_size=10)
    while unsent(engine) and passes < 100:
        passes += 1
        if passes == 10:
            for case in cases[:4]:
                lease_as_a_dead_relay(engine, written[case][0], seconds=-1)
        try:
            relay.relay_once()
        except Exception as failure:
            assert "database server is gone" in str(failure)
            outage.down = False
    assert unsent(engine) == 0
    for case in cases:
        assert peer.applied_for(case) == written[case]
