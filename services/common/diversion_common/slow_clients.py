"""uvicorn as our services run it, with the time limit on a request's head that it lacks.

uvicorn closes an idle keep-alive connection (`--timeout-keep-alive`), but a connection
whose request head arrives a byte at a time is held for ever: its keep-alive timer is
cancelled by each byte, and a new connection has no timer at all. A few hundred such
clients would hold every connection. ``H11ProtocolWithHeaderTimeout`` gives each request
head a deadline counted from its first byte (from the connection for the first request);
past it the connection gets a 408 and is closed. The body has its own deadline, kept by
RequestLimitsMiddleware.
"""

from __future__ import annotations

import asyncio
import json

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from diversion_common.problems import PROBLEM_MEDIA_TYPE, RequestTimeout

# An idle keep-alive connection is closed after this long, by both listeners of each service.
KEEP_ALIVE_SECONDS = 5
# Our own clients give an idle connection up well before that: a request written to a connection
# idle for exactly the server's time meets the server closing it (a spurious failed send).
CLIENT_IDLE_SECONDS = KEEP_ALIVE_SECONDS - 3

# The command-line options every place that starts a service passes to uvicorn.
UVICORN_OPTIONS = [
    "--http", "diversion_common.slow_clients:H11ProtocolWithHeaderTimeout",
    "--timeout-keep-alive", str(KEEP_ALIVE_SECONDS),
    "--h11-max-incomplete-event-size", "16384",  # a request head over 16 KiB is refused (400)
    "--no-access-log",  # ours, without personal data, is diversion.access
]

# uvicorn makes the protocol from its own configuration, which has no place for this: the
# app factory (create_service_app) sets it from the service's settings, in the same process,
# before the server accepts its first connection.
_header_read_timeout_seconds = 10.0


def configure_header_read_timeout(seconds: float) -> None:
    global _header_read_timeout_seconds
    _header_read_timeout_seconds = seconds


def _timeout_response() -> bytes:
    body = json.dumps(RequestTimeout("The request head did not arrive in time").to_body()).encode()
    return (
        b"HTTP/1.1 408 Request Timeout\r\n"
        b"content-type: " + PROBLEM_MEDIA_TYPE.encode() + b"\r\n"
        b"content-length: " + str(len(body)).encode() + b"\r\n"
        b"connection: close\r\n\r\n" + body
    )


class H11ProtocolWithHeaderTimeout(H11Protocol):
    _head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._watch_head()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._watch_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def _watch_head(self) -> None:
        waiting_for_head = self.conn.their_state is h11.IDLE and not self.transport.is_closing()
        if waiting_for_head and self._head_timer is None:
            # Not re-armed by later bytes: the deadline is for the whole head.
            self._head_timer = self.loop.call_later(_header_read_timeout_seconds, self._head_timed_out)
        elif not waiting_for_head:
            self._cancel_head_timer()

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            # No request was read, so h11 will not write a response: these bytes are the whole answer.
            self.transport.write(_timeout_response())
            self.transport.close()
