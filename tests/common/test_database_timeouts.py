"""A PostgreSQL host that accepts connections but never answers costs a bounded wait, not minutes.

A fake stands for the silent host: a TCP listener that accepts and says nothing (what a
server behind a dead load balancer or a hung host looks like to a client)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from diversion_common.database import CONNECT_TIMEOUT_SECONDS, make_engine
from diversion_common.problems import database_unreachable


@pytest.fixture
def silent_host() -> Iterator[int]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])  # kept open, never answered
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    for connection in accepted:
        connection.close()
    listener.close()


def test_a_silent_database_host_fails_the_connection_within_its_timeout(silent_host):
    engine = make_engine(f"postgresql://postgres@127.0.0.1:{silent_host}/nothing")
    outcome: list[BaseException | None] = []

    def connect() -> None:
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            outcome.append(None)
        except BaseException as error:  # noqa: BLE001 - examined below
            outcome.append(error)

    started = time.monotonic()
    thread = threading.Thread(target=connect, daemon=True)
    thread.start()
    thread.join(timeout=CONNECT_TIMEOUT_SECONDS * 4)
    elapsed = time.monotonic() - started
    engine.dispose()

    assert outcome, f"still waiting after {elapsed:.0f} s: the connection attempt is not bounded"
    assert isinstance(outcome[0], OperationalError) and database_unreachable(outcome[0])  # a 503 to the caller
    assert elapsed < CONNECT_TIMEOUT_SECONDS * 3
