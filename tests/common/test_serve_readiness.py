"""`diversion-link serve` says "ready" only when its own processes answer.

It used to poll /health on its ports and believe whatever answered: another instance
already listening there made it say "ready" while its own services failed to start.
"""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from diversion_cli import runner
from support.processes import free_port

CLI = str(Path(sys.executable).parent / "diversion-link")


class OtherInstance(http.server.BaseHTTPRequestHandler):
    """What another run of the services answers on /health."""

    def do_GET(self) -> None:  # noqa: N802 - the standard library's name
        body = b'{"status": "ok", "service": "referral_api"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def other_instance() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), OtherInstance)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_serve_refuses_a_port_another_instance_holds_and_never_says_ready(other_instance: int, tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path}/unused.db"
    started = time.monotonic()
    done = subprocess.run(
        [CLI, "serve", "--referral-api-port", str(other_instance), "--provider-gateway-port", str(free_port()),
         "--referral-api-internal-port", str(free_port()), "--provider-gateway-internal-port", str(free_port())],
        env={**os.environ, "REFERRAL_API_DATABASE_URL": database, "PROVIDER_GATEWAY_DATABASE_URL": database},
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode != 0
    assert "ready" not in done.stdout
    assert f"port {other_instance} already in use" in done.stderr
    assert time.monotonic() - started < 60  # it stops at once, starting nothing


def test_an_answer_from_another_instance_is_not_taken_for_our_own(other_instance: int) -> None:
    ours = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert not runner.wait_until_healthy(f"http://127.0.0.1:{other_instance}", ours, instance="this-run", timeout=1.5)
    finally:
        ours.kill()
        ours.wait()


def test_serve_refuses_several_workers_on_sqlite(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path}/unused.db"
    done = subprocess.run(
        [CLI, "serve", "--workers", "2", "--referral-api-port", str(free_port()), "--provider-gateway-port", str(free_port()),
         "--referral-api-internal-port", str(free_port()), "--provider-gateway-internal-port", str(free_port())],
        env={**os.environ, "REFERRAL_API_DATABASE_URL": database, "PROVIDER_GATEWAY_DATABASE_URL": database},
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode != 0
    assert "ready" not in done.stdout
    assert done.stderr.strip() == "error: --workers 2 needs PostgreSQL; referral_api, provider_gateway runs on SQLite"
    assert not (tmp_path / "unused.db").exists()  # nothing started
