"""A service's client to the other service gives an idle connection up before that service's
listener closes it: a send written on a connection idle for exactly the listener's keep-alive
time meets the close and fails (an event that could have been decided at once is answered 202)."""

from __future__ import annotations

import threading
import time
import uuid

import uvicorn

from diversion_common.database import utcnow
from diversion_common.messaging import MessageEnvelope, http_sender
from diversion_common.slow_clients import CLIENT_IDLE_SECONDS, KEEP_ALIVE_SECONDS
from support.processes import free_port, wait_for


class _Inbox:
    """An internal inbox that answers an empty batch and notes which client connection each call came on."""

    def __init__(self) -> None:
        self.connections: list[tuple[str, int]] = []

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        self.connections.append(tuple(scope["client"]))
        while (await receive()).get("more_body"):
            pass
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": b'{"receipts": []}'})


def test_an_idle_connection_is_given_up_before_the_listener_would_close_it():
    assert CLIENT_IDLE_SECONDS < KEEP_ALIVE_SECONDS
    inbox, port = _Inbox(), free_port()
    server = uvicorn.Server(uvicorn.Config(inbox, host="127.0.0.1", port=port, timeout_keep_alive=KEEP_ALIVE_SECONDS, log_config=None, lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        assert wait_for(lambda: server.started, timeout=10)
        sender = http_sender(f"http://127.0.0.1:{port}", "a-key")

        def send() -> None:
            sender([MessageEnvelope(id=uuid.uuid4(), topic="case.notice", aggregate_id=uuid.uuid4(), payload={}, created_at=utcnow())])

        send()
        send()  # at once: the same connection
        time.sleep(CLIENT_IDLE_SECONDS + 0.5)  # idle past the client's time, not yet the listener's
        send()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    first, again, after_idle = inbox.connections
    assert first == again and after_idle != first
