"""A webhook endpoint of an outside party (a treatment provider, a police system),
speaking the real protocol.

It verifies every message with the public `standardwebhooks` package, records
what it received, and answers as scripted: a status (with headers), or a hang.
It listens on loopback only.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook


@dataclass
class Received:
    webhook_id: str
    payload: dict[str, Any] | None
    verified: bool
    at: float
    answered: int | None = None
    request_id: str | None = None  # the X-Request-ID it came with


@dataclass
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    hang_seconds: float = 0.0
    # Hang until the test sets this (at most a minute): "still busy" without guessing how long.
    hang_until: threading.Event | None = None
    # A hostile answer: a body announced this long, of which 64 KiB is sent at once and the rest
    # never (the connection then stays open, idle, until the caller goes).
    endless_body_bytes: int = 0


class WebhookReceiver:
    def __init__(self, secrets: list[str] | None = None) -> None:
        self.secrets = list(secrets or [])
        self.script: deque[Answer] = deque()
        self.received: list[Received] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/webhooks/diversion-link"

    def start(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def answer_next(self, *answers: Answer) -> None:
        with self._lock:
            self.script.extend(answers)

    def ids(self) -> list[str]:
        with self._lock:
            return [r.webhook_id for r in self.received]

    def accepted(self) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.answered and 200 <= r.answered < 300]

    def _verify(self, body: bytes, headers: dict[str, str]) -> dict[str, Any] | None:
        for secret in self.secrets:
            try:
                return Webhook(secret).verify(body, headers)
            except Exception:
                continue
        return None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                if len(body) < length:
                    # The sender went away before its body was sent (a worker killed between writing
                    # the head and the body): as for any HTTP server, no request was received.
                    self.close_connection = True
                    return
                headers = {k.lower(): v for k, v in self.headers.items()}
                payload = receiver._verify(body, headers)
                record = Received(headers.get("webhook-id", ""), payload, payload is not None, time.monotonic(), request_id=headers.get("x-request-id"))
                with receiver._lock:
                    receiver.received.append(record)
                    answer = receiver.script.popleft() if receiver.script else Answer()
                if answer.hang_seconds:
                    time.sleep(answer.hang_seconds)
                if answer.hang_until is not None:
                    answer.hang_until.wait(timeout=60)
                status = answer.status if record.verified else 401
                try:
                    self.send_response(status)
                    for name, value in answer.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(answer.endless_body_bytes or 2))
                    self.end_headers()
                    if answer.endless_body_bytes:
                        record.answered = status
                        self.wfile.write(b" " * 65536)
                        self.wfile.flush()
                        self.rfile.read(1)  # returns when the caller closes the connection
                    else:
                        self.wfile.write(b"{}")
                        record.answered = status
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the caller gave up waiting

        return Handler


def received_payloads(receiver: WebhookReceiver) -> list[dict[str, Any]]:
    return [json.loads(json.dumps(r.payload)) for r in receiver.accepted()]
