"""Run both services as two processes, stop both together."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import structlog

from diversion_common import service_process
from diversion_common.instance import INSTANCE_HEADER, INSTANCE_VARIABLE
from diversion_common.observability import configure_logging

# serve's own lines are log records: JSON, like those of the two services it runs.
log = structlog.get_logger("diversion.serve")

SERVICES = {
    "referral_api": "referral_api.main:create_app",
    "provider_gateway": "provider_gateway.main:create_app",
}


def read_env_file(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            values[key.strip()] = value.strip()
    return values


def start_service(name: str, host: str, port: int, env: dict[str, str], workers: int = 1) -> subprocess.Popen[bytes]:
    command = [sys.executable, *service_process.command(SERVICES[name]), "--host", host, "--port", str(port)]
    if workers > 1:
        # uvicorn's supervisor shares the public socket with its workers; each worker binds the
        # internal port too (SO_REUSEPORT: diversion_common/internal_listener.py).
        command += ["--workers", str(workers)]
    return subprocess.Popen(command, env=env)


def wait_until_healthy(url: str, process: subprocess.Popen[bytes], instance: str, timeout: float = 120.0) -> bool:
    """Whether ``process`` is ready at ``url`` (/health/ready: its database at the latest schema and its
    loops running); a slow machine takes a while to import it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            response = httpx.get(f"{url}/health/ready", timeout=5.0)
            if response.status_code == 200 and response.headers.get(INSTANCE_HEADER) == instance:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    return False


def ports_in_use(host: str, ports: list[int]) -> list[int]:
    """The ports something already listens on (another instance, say): serve would not get them."""
    taken = []
    for port in ports:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, port))
            except OSError:
                taken.append(port)
    return taken


def _reachable(host: str) -> str:
    """An address to call a listener bound to ``host`` on, from this machine."""
    return {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "[::1]"}.get(host, f"[{host}]" if ":" in host else host)


def serve(
    env_file: Path | None,
    host: str,
    referral_api_port: int,
    provider_gateway_port: int,
    referral_api_internal_port: int = 8010,
    provider_gateway_internal_port: int = 8011,
    workers: int = 1,
) -> int:
    env = dict(os.environ)
    if env_file is not None:
        env.update(read_env_file(env_file))
    configure_logging(env.get("REFERRAL_API_LOG_LEVEL", "INFO"))
    if workers < 1:
        print("error: --workers must be 1 or more", file=sys.stderr)
        return 1
    on_sqlite = [name for name in SERVICES if env.get(f"{name.upper()}_DATABASE_URL", "sqlite").startswith("sqlite")]
    if workers > 1 and on_sqlite:
        # SQLite has one writer: processes would take turns through its file lock, sleeping in its
        # busy handler, where one process's threads queue in its pool (docs/PERFORMANCE.md).
        print(f"error: --workers {workers} needs PostgreSQL; {', '.join(on_sqlite)} runs on SQLite", file=sys.stderr)
        return 1
    # Each service's internal inbox on a loopback listener of its own; the relays call those.
    env.setdefault("REFERRAL_API_INTERNAL_PORT", str(referral_api_internal_port))
    env.setdefault("PROVIDER_GATEWAY_INTERNAL_PORT", str(provider_gateway_internal_port))
    referral_api_inbox = _reachable(env.setdefault("REFERRAL_API_INTERNAL_HOST", "127.0.0.1"))
    gateway_inbox = _reachable(env.setdefault("PROVIDER_GATEWAY_INTERNAL_HOST", "127.0.0.1"))
    env.setdefault("REFERRAL_API_GATEWAY_URL", f"http://{gateway_inbox}:{env['PROVIDER_GATEWAY_INTERNAL_PORT']}")
    env.setdefault("PROVIDER_GATEWAY_REFERRAL_API_URL", f"http://{referral_api_inbox}:{env['REFERRAL_API_INTERNAL_PORT']}")
    env.setdefault("REFERRAL_API_PUBLIC_BASE_URL", f"http://{host}:{referral_api_port}")
    env.setdefault("PROVIDER_GATEWAY_PUBLIC_BASE_URL", f"http://{host}:{provider_gateway_port}")
    ports = {"referral_api": referral_api_port, "provider_gateway": provider_gateway_port}
    internal = {
        "referral_api": (env["REFERRAL_API_INTERNAL_HOST"], int(env["REFERRAL_API_INTERNAL_PORT"])),
        "provider_gateway": (env["PROVIDER_GATEWAY_INTERNAL_HOST"], int(env["PROVIDER_GATEWAY_INTERNAL_PORT"])),
    }
    taken = ports_in_use(host, list(ports.values())) + [
        port for internal_host, port in internal.values() for port in ports_in_use(internal_host, [port])
    ]
    if taken:
        print(f"error: port {', '.join(map(str, taken))} already in use (another instance?); nothing started", file=sys.stderr)
        return 1
    instance = secrets.token_hex(16)
    env[INSTANCE_VARIABLE] = instance
    processes = {name: start_service(name, host, port, env, workers) for name, port in ports.items()}

    stopping = False

    def stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        for name, process in processes.items():
            # Its public listener and its internal one, each answering as this very process.
            urls = [f"http://{_reachable(host)}:{ports[name]}", f"http://{_reachable(internal[name][0])}:{internal[name][1]}"]
            if not all(wait_until_healthy(url, process, instance) for url in urls):
                log.error("did not start", service=name)
                return 1
        log.info("ready", referral_api=f"http://{host}:{referral_api_port}", provider_gateway=f"http://{host}:{provider_gateway_port}")
        while not stopping:
            for name, process in processes.items():
                if process.poll() is not None:
                    log.error("exited", service=name, exit_status=process.returncode)
                    return 1
            time.sleep(0.2)
        return 0
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.terminate()
        for process in processes.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
