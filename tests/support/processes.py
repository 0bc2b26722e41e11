"""Real service processes for end-to-end tests: uvicorn on a free loopback port."""

from __future__ import annotations

import contextlib
import io
import itertools
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from diversion_common import service_process
from diversion_common.instance import INSTANCE_HEADER, INSTANCE_VARIABLE

REPO = Path(__file__).resolve().parents[2]
APPS = {
    "referral_api": "referral_api.main:create_app",
    "provider_gateway": "provider_gateway.main:create_app",
}


# Each pytest-xdist worker (and a process outside pytest) hands out ports from a range of its
# own, below the kernel's ephemeral range, which bind(0) and outgoing connections draw from.
# With bind(0), two workers could each be given the same port a moment apart (free again in
# between), start a service on it, and one of them take the other's /health for its own.
_PORTS_PER_WORKER = 400
_FIRST_PORT = 12000


def _port_range() -> range:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    index = int(worker[2:]) + 1 if worker.startswith("gw") and worker[2:].isdigit() else 0
    start = _FIRST_PORT + index * _PORTS_PER_WORKER
    return range(start, start + _PORTS_PER_WORKER)


_PORTS = _port_range()
# From a random place: a subprocess of the same worker starts its own count.
_next_port = itertools.count(random.randrange(len(_PORTS)))


def free_port() -> int:
    """A loopback port nothing listens on, from this worker's range (above)."""
    for _ in range(len(_PORTS)):
        port = _PORTS[next(_next_port) % len(_PORTS)]
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {_PORTS}")


@dataclass
class ServiceProcess:
    name: str
    port: int
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen | None = field(default=None, repr=False)
    workers: int = 1  # uvicorn's worker processes (PostgreSQL only: serve --workers)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def pids(self) -> list[int]:
        """The process and, with workers, the worker processes it spawned (which answer the calls)."""
        assert self.process is not None
        return [self.process.pid, *spawned_workers(self.process.pid)]

    def start(self, timeout: float = 120.0) -> ServiceProcess:  # a busy shared machine takes a while to import one
        log = self.log_path.open("ab")
        # Its /health names this start, so another process on the port is never taken for it.
        instance = self.env.get(INSTANCE_VARIABLE) or secrets.token_hex(8)
        self.process = subprocess.Popen(
            [sys.executable, *service_process.command(APPS[self.name]), "--host", "127.0.0.1", "--port", str(self.port),
             *(["--workers", str(self.workers)] if self.workers > 1 else [])],
            env={**os.environ, **self.env, INSTANCE_VARIABLE: instance},
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited: see {self.log_path}")
            try:
                answer = httpx.get(f"{self.url}/health", timeout=0.5)
                # Started once it answers and, with workers, every worker is up (their CPU and memory are measured).
                if answer.status_code == 200 and answer.headers.get(INSTANCE_HEADER) == instance and (
                    self.workers == 1 or len(spawned_workers(self.process.pid)) == self.workers
                ):
                    return self
                time.sleep(0.05)
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not become healthy")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def terminate(self) -> None:
        """SIGTERM, without waiting: the process drains what it is doing, then exits."""
        assert self.process is not None and self.process.poll() is None, f"{self.name} is not running"
        self.process.send_signal(signal.SIGTERM)

    def exit_code(self, timeout: float) -> int | None:
        """The process's exit status once it has exited, or None if it is still running after ``timeout``."""
        assert self.process is not None
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None


def children(pid: int) -> dict[int, str]:
    """The processes ``pid`` started, with their command lines."""
    listed = subprocess.run(["ps", "-ww", "-o", "pid=,args=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return {int(line.split(None, 1)[0]): line.split(None, 1)[1] for line in listed.splitlines() if line.strip()}


def spawned_workers(pid: int) -> list[int]:
    """The worker processes a uvicorn supervisor (``--workers``) has spawned."""
    return [child for child, args in children(pid).items() if "multiprocessing.spawn" in args]


def start_together(*services: ServiceProcess) -> None:
    """Start several services at once (each takes seconds to import); raise if any fails."""
    errors: list[BaseException] = []

    def start(service: ServiceProcess) -> None:
        try:
            service.start()
        except BaseException as error:  # noqa: BLE001 - re-raised below, in the caller's thread
            errors.append(error)

    threads = [threading.Thread(target=start, args=(service,)) for service in services]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


# Commands that only read and write the databases run in the test's own process (a new process
# costs about 2 s of CPU to import both services, and these tests run them by the hundred), through
# the same entry as `diversion-link`: its exit status, its stdout and its stderr. Commands that
# start loops, configure logging, migrate or restore, and `--version`, run as a real process.
IN_PROCESS_COMMANDS = frozenset(
    {"clients", "callbacks", "breaches", "retention", "providers", "deliveries", "subject-access", "audit", "reference", "openapi"}
)


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    if _command_of(args) in IN_PROCESS_COMMANDS:
        return cli_in_process(env, *args)
    return cli_process(env, *args)


def cli_process(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "diversion_cli.main", *args],
        env={**os.environ, **env},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )


def cli_in_process(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`diversion-link ARGS` as `main()` runs it, in this process, with ``env`` over the environment."""
    from diversion_cli.errors import exit_status_of
    from diversion_cli.main import app
    from diversion_common import secrets_at_rest
    from provider_gateway.config import get_settings as gateway_settings
    from referral_api.config import get_settings as referral_settings

    saved_environ, saved_keys, saved_cwd = dict(os.environ), dict(secrets_at_rest._configured), os.getcwd()
    stdout, stderr = io.StringIO(), io.StringIO()
    try:
        os.environ.update(env)
        os.chdir(REPO)
        secrets_at_rest._configured.clear()  # the keys of the environment, as a new process reads them
        for settings in (referral_settings, gateway_settings):
            settings.cache_clear()
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            try:
                status = exit_status_of(lambda: app(args=list(args), prog_name="diversion-link", standalone_mode=False))
            except SystemExit as exit_:
                status = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    finally:
        os.environ.clear()
        os.environ.update(saved_environ)
        os.chdir(saved_cwd)
        secrets_at_rest._configured.clear()
        secrets_at_rest._configured.update(saved_keys)
        for settings in (referral_settings, gateway_settings):
            settings.cache_clear()
    return subprocess.CompletedProcess(["diversion-link", *args], status, stdout.getvalue(), stderr.getvalue())


def _command_of(args: tuple[str, ...]) -> str | None:
    """The command word, past the global options (``--operator NAME``)."""
    words = iter(args)
    for word in words:
        if word == "--operator":
            next(words, None)
        elif not word.startswith("-"):
            return word
    return None


def one_line_error(ran: subprocess.CompletedProcess[str]) -> str:
    """The command failed as an operator should see it: one line on stderr, no traceback; that line."""
    assert ran.returncode != 0, ran.stdout
    assert "Traceback" not in ran.stderr, ran.stderr
    lines = ran.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), ran.stderr
    return lines[0]


def wait_for(predicate, timeout: float = 15.0, interval: float = 0.05):
    """Poll until predicate() is truthy; return its value, or the last one on timeout."""
    deadline = time.monotonic() + timeout
    value = predicate()
    while not value and time.monotonic() < deadline:
        time.sleep(interval)
        value = predicate()
    return value


@dataclass
class WorkerProcess:
    """A standalone delivery worker (`diversion-link gateway-worker`)."""

    name = "gateway-worker"  # not a field: as ServiceProcess's, for messages
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen | None = field(default=None, repr=False)

    def start(self) -> WorkerProcess:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "diversion_cli.main", "gateway-worker"],
            env={**os.environ, **self.env},
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        return self

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        ServiceProcess.stop(self)  # type: ignore[arg-type]

    def kill(self) -> None:
        ServiceProcess.kill(self)  # type: ignore[arg-type]

    def terminate(self) -> None:
        ServiceProcess.terminate(self)  # type: ignore[arg-type]

    def exit_code(self, timeout: float) -> int | None:
        return ServiceProcess.exit_code(self, timeout)  # type: ignore[arg-type]
