"""No thread calls the other service while it holds a connection of its own pool.

On SQLite the pool is one connection: a call to the other service made while holding it
stops every other user of the database until the call returns (or times out).
"""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import text
from sqlmodel import Session

from diversion_common.database import connections_held_here, make_engine, utcnow
from diversion_common.messaging import ConnectionHeldAcrossCall, MessageEnvelope, client_sender


@pytest.fixture
def engine(fresh_database):
    engine = make_engine(fresh_database("referral_api"))
    yield engine
    engine.dispose()


def envelope() -> MessageEnvelope:
    case_id = uuid.uuid4()
    return MessageEnvelope(id=uuid.uuid4(), topic="case.routing_requested", aggregate_id=case_id,
                           payload={"case_id": str(case_id)}, created_at=utcnow())


def test_a_call_to_the_other_service_with_a_connection_held_is_refused_before_it_is_made(engine):
    requests: list[httpx.Request] = []

    def other_service(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(200, json={"receipts": []})

    send = client_sender(httpx.Client(base_url="http://other", transport=httpx.MockTransport(other_service)), "key")
    with Session(engine) as session:
        session.execute(text("SELECT 1"))  # a transaction open: the connection is checked out
        assert connections_held_here() == 1
        with pytest.raises(ConnectionHeldAcrossCall):
            send([envelope()])
        assert requests == []
        session.commit()  # gives the connection back
        assert connections_held_here() == 0
        send([envelope()])
    assert len(requests) == 1


def test_a_connection_given_back_by_another_thread_is_no_longer_counted(engine):
    import threading

    session = Session(engine)
    session.execute(text("SELECT 1"))
    closer = threading.Thread(target=session.close)  # as a dependency's teardown does
    closer.start()
    closer.join()
    assert connections_held_here() == 0
