"""Limits on abuse against a real uvicorn process, spoken to over raw sockets (docs/SECURITY.md, item 7).

Slow clients, keys checked before a body is read, and wrong keys from one address: the
server's own behaviour, which an in-process client cannot show.
"""

from __future__ import annotations

import select
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from diversion_common.credentials import Role
from diversion_common.problems import PROBLEM_MEDIA_TYPE, PROBLEM_TYPE_BASE
from referral_api.clients.tables import Client
from support.processes import ServiceProcess, free_port
from support.two_services import issue

# The server's own limits (slow clients, keys before bodies), before any query: one database is enough.
pytestmark = pytest.mark.database_independent

Start = Callable[..., ServiceProcess]


@pytest.fixture
def start_api(referral_db: str, tmp_path: Path) -> Iterator[Start]:
    """referral_api alone, as a real process, with the given settings (REFERRAL_API_ left off)."""
    started: list[ServiceProcess] = []

    def start(**settings: str) -> ServiceProcess:
        env = {
            "REFERRAL_API_DATABASE_URL": referral_db,
            "REFERRAL_API_RUN_DELIVERY_WORKER": "false",
            "REFERRAL_API_LOG_LEVEL": "WARNING",
            **{f"REFERRAL_API_{name.upper()}": value for name, value in settings.items()},
        }
        process = ServiceProcess("referral_api", free_port(), env, tmp_path / "referral_api.log").start()
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


def police_key(referral_db: str) -> str:
    return issue(referral_db, Client, Role.police, force="thames-valley")


def wrong_key() -> str:
    # Well-formed, so that without the throttle each one would be looked up.
    return f"dl_{uuid.uuid4().hex}_not-the-secret"


# --- raw HTTP/1.1 over a socket ------------------------------------------------------


def connect(service: ServiceProcess) -> socket.socket:
    return socket.create_connection(("127.0.0.1", service.port), timeout=10)


def head(method: str, path: str, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{name}: {value}" for name, value in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def trickle_until_answered(sock: socket.socket, byte: bytes, seconds: float, interval: float = 0.2) -> float | None:
    """Send a byte every interval until the server answers or closes; the time it took, or None."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        readable, _, _ = select.select([sock], [], [], interval)
        if readable:
            return time.monotonic() - started
        try:
            sock.sendall(byte)
        except OSError:  # closed under us: answered (or dropped) as we sent
            return time.monotonic() - started
    return None


def read_answer(sock: socket.socket) -> tuple[int, dict[str, str], bytes, bool]:
    """The status, headers and body of one response, and whether the server then closed."""
    data = b""
    sock.settimeout(5)
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head_bytes, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head_bytes.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, value in (line.split(":", 1) for line in header_lines)}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    try:
        closed = sock.recv(1) == b""
    except (TimeoutError, ConnectionResetError):
        closed = False
    return int(status_line.split()[1]), headers, body, closed


# --- the tests -------------------------------------------------------------------------


def test_a_body_that_trickles_in_is_cut_off_with_408(start_api: Start, referral_db: str):
    api = start_api(body_read_timeout_seconds="1")
    with connect(api) as sock:
        sock.sendall(head("POST", "/v1/referrals", {
            "Authorization": f"Bearer {police_key(referral_db)}",
            "Content-Type": "application/json",
            "Content-Length": "5000",
        }))
        took = trickle_until_answered(sock, b" ", seconds=8)
        assert took is not None, "a body sent a byte at a time held the connection for 8 s"
        assert took < 3
        status, headers, body, closed = read_answer(sock)
    assert status == 408
    assert headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert httpx.Response(200, content=body).json()["type"] == PROBLEM_TYPE_BASE + "request-timeout"
    assert closed, "the connection stays open after the 408"
    # Nothing was written, and the server still answers others.
    listed = httpx.get(f"{api.url}/v1/referrals", headers={"Authorization": f"Bearer {police_key(referral_db)}"})
    assert listed.json()["items"] == []


def test_a_request_head_that_trickles_in_or_never_comes_is_cut_off(start_api: Start):
    api = start_api(header_read_timeout_seconds="1")
    with connect(api) as sock:
        sock.sendall(b"GET /v1/referrals HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        took = trickle_until_answered(sock, b"x", seconds=8)
        assert took is not None, "a request head sent a byte at a time held the connection for 8 s"
        assert took < 3
        status, _, _, closed = read_answer(sock)
        assert (status, closed) == (408, True)
    with connect(api) as sock:  # a connection that never sends anything
        readable, _, _ = select.select([sock], [], [], 8)
        assert readable, "a silent connection was held for 8 s"
        status, _, _, closed = read_answer(sock)
        assert (status, closed) == (408, True)


@pytest.mark.parametrize("path", ["/v1/referrals", "/internal/v1/messages/batch"])
def test_without_a_key_a_large_body_is_refused_before_it_is_sent(start_api: Start, path: str):
    api = start_api()
    for authorization in ({}, {"Authorization": f"Bearer {wrong_key()}"}):
        with connect(api) as sock:
            # Only the head: a server that waited for the body before checking the key would not answer.
            sock.sendall(head("POST", path, {**authorization, "Content-Type": "application/json", "Content-Length": "900000"}))
            readable, _, _ = select.select([sock], [], [], 5)
            assert readable, f"{path} waited for an unauthenticated body"
            status, headers, body, closed = read_answer(sock)
        assert status == 401
        assert headers["www-authenticate"] == "Bearer"
        assert closed, "the connection waits for a body it will not read"
        assert httpx.Response(200, content=body).json()["type"] == PROBLEM_TYPE_BASE + "unauthenticated"


def test_wrong_keys_from_one_address_are_throttled_and_another_address_is_not(start_api: Start, referral_db: str):
    api = start_api(rate_limit_failed_auth="10/minute")
    police = {"Authorization": f"Bearer {police_key(referral_db)}"}
    with httpx.Client(base_url=api.url) as attacker:
        answers = [attacker.get("/v1/referrals", headers={"Authorization": f"Bearer {wrong_key()}"}) for _ in range(300)]
        assert [a.status_code for a in answers[:10]] == [401] * 10
        assert {a.status_code for a in answers[10:]} == {429}
        for answer in answers[10:]:
            assert answer.headers["content-type"] == PROBLEM_MEDIA_TYPE
            assert 1 <= int(answer.headers["Retry-After"]) <= 60
        # From that address even a right key waits: it is not looked at.
        assert attacker.get("/v1/referrals", headers=police).status_code == 429
    # Another address (127.0.0.2 is loopback too) is not affected.
    with httpx.Client(base_url=api.url, transport=httpx.HTTPTransport(local_address="127.0.0.2")) as officer:
        assert officer.get("/v1/referrals", headers=police).status_code == 200
        assert officer.get("/v1/referrals", headers={"Authorization": f"Bearer {wrong_key()}"}).status_code == 401
