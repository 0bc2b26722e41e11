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

from diversion_common.database import begin_call, connections_held_here, make_engine, utcnow
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


def test_a_call_is_not_refused_for_the_connection_of_another_call_that_ran_on_its_thread(engine):
    """The server runs each call's route on a pool thread and closes the call's session after the
    route returns, apart from it: the thread may start the next call's route first. That call
    holds nothing (found under 60 mixed clients on PostgreSQL: a provider's event answered 500
    because the call before it on the same thread had not yet given its connection back)."""
    import contextvars

    requests: list[httpx.Request] = []
    send = client_sender(
        httpx.Client(base_url="http://other", transport=httpx.MockTransport(lambda r: requests.append(r) or httpx.Response(200, json={"receipts": []}))),
        "key",
    )
    first_call, next_call = contextvars.copy_context(), contextvars.copy_context()
    first_call.run(begin_call)  # as each call's outermost middleware does
    next_call.run(begin_call)
    session = Session(engine)
    first_call.run(session.execute, text("SELECT 1"))  # its session still open: its teardown is to come

    next_call.run(send, [envelope()])  # on the same thread, holding nothing
    with pytest.raises(ConnectionHeldAcrossCall):
        first_call.run(send, [envelope()])  # the call that holds it is still refused
    session.close()
    assert len(requests) == 1
