"""Each container's command, run here as compose would run it, against a throw-away database.

No Docker engine runs here, so each container is its command as a process: the image's
environment and compose's, the secrets as files in a secrets directory (none in the
environment), the addresses made this machine's. migrate first, on an empty database; then
each web service until the image's own health check (/health/ready) passes, and the loops
until compose's health check of their heartbeat passes and they have run.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from alembic import command

from diversion_common.heartbeat import read_beat
from diversion_common.migrations import alembic_config
from diversion_common.secrets_at_rest import new_key
from support.deployment import IMAGES, compose_config, read_image
from support.processes import REPO, free_port, wait_for

BIN = Path(sys.executable).parent
WEB = ("referral_api", "provider_gateway")
IMAGE_OF = {"migrate": "referral_api", "referral_api": "referral_api", "provider_gateway": "provider_gateway",
            "gateway_worker": "provider_gateway", "scheduler": "referral_api"}
CONTAINER_HEARTBEAT = "/tmp/heartbeat"


def executable(argv: list[str]) -> list[str]:
    """The image's programs are this venv's (the image puts its venv first on PATH)."""
    program = sys.executable if argv[0] == "python3" else str(BIN / argv[0])
    return [program, *argv[1:]]


class Containers:
    def __init__(self, config: dict, secrets: dict[str, str], folder: Path) -> None:
        self.config, self.secrets, self.folder = config, secrets, folder
        self.ports: dict = {name: {"public": free_port(), "internal": free_port()} for name in WEB}
        self.ports["scheduler_metrics"] = free_port()
        self.running: dict[str, subprocess.Popen[bytes]] = {}

    def environment(self, name: str, **extra: str) -> dict[str, str]:
        service = self.config["services"][name]
        secrets_dir = self.folder / f"{name}-secrets"
        # Written once: a health check's environment rewriting a file its process may be reading at startup
        # (write_text truncates first) hands that process an empty database URL.
        if not secrets_dir.exists():
            secrets_dir.mkdir()
            for mounted in service.get("secrets", []):
                (secrets_dir / mounted["source"]).write_text(self.secrets[mounted["source"]])
        # Nothing of this test run's own settings (conftest sets keys in the environment): only the container's.
        env = {key: value for key, value in os.environ.items() if not key.startswith(("REFERRAL_API_", "PROVIDER_GATEWAY_"))}
        env.update({key: value for key, value in read_image(IMAGES[IMAGE_OF[name]]).env().items() if key != "PATH"})
        env.update({key: str(value) for key, value in (service.get("environment") or {}).items()})
        env["DIVERSION_SECRETS_DIR"] = str(secrets_dir)
        for web in WEB:  # each listener on this machine's loopback, on a port of its own
            prefix = web.upper()
            env[f"{prefix}_INTERNAL_HOST"] = "127.0.0.1"
            env[f"{prefix}_INTERNAL_PORT"] = str(self.ports[web]["internal"])
        env["REFERRAL_API_GATEWAY_URL"] = f"http://127.0.0.1:{self.ports['provider_gateway']['internal']}"
        env["PROVIDER_GATEWAY_REFERRAL_API_URL"] = f"http://127.0.0.1:{self.ports['referral_api']['internal']}"
        if name in WEB:
            env.update(UVICORN_HOST="127.0.0.1", UVICORN_PORT=str(self.ports[name]["public"]))
        return {**env, **extra}

    def command(self, name: str) -> list[str]:
        argv = self.config["services"][name].get("command") or read_image(IMAGES[IMAGE_OF[name]]).command()
        argv = [self.heartbeat(name) if part == CONTAINER_HEARTBEAT else part for part in argv]
        if "--metrics-port" in argv:  # this machine's loopback, on a port of its own
            argv[argv.index("--metrics-port") + 1] = str(self.ports["scheduler_metrics"])
            argv[argv.index("--metrics-host") + 1] = "127.0.0.1"
        return argv

    def healthcheck(self, name: str) -> list[str]:
        check = self.config["services"][name].get("healthcheck")
        argv = check["test"][1:] if check else read_image(IMAGES[IMAGE_OF[name]]).healthcheck()
        return [self.heartbeat(name) if part == CONTAINER_HEARTBEAT else part for part in argv]

    def heartbeat(self, name: str) -> str:
        return str(self.folder / f"{name}.heartbeat")

    def log(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text()

    def run_once(self, name: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(executable(self.command(name)), env=self.environment(name), cwd=REPO, capture_output=True, text=True, timeout=300)

    def start(self, name: str, **extra: str) -> None:
        with (self.folder / f"{name}.log").open("ab") as log:
            self.running[name] = subprocess.Popen(
                executable(self.command(name)), env=self.environment(name, **extra), cwd=REPO, stdout=log, stderr=subprocess.STDOUT
            )

    def healthy(self, name: str) -> bool:
        assert self.running[name].poll() is None, f"{name} exited:\n{self.log(name)}"
        checked = subprocess.run(executable(self.healthcheck(name)), env=self.environment(name), cwd=REPO, capture_output=True, timeout=60)
        return checked.returncode == 0

    def stop_all(self) -> dict[str, int]:
        for process in self.running.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        exits = {}
        for name, process in self.running.items():
            try:
                exits[name] = process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                exits[name] = process.wait()
        return exits


@pytest.fixture
def containers(fresh_database, tmp_path):
    urls = {service: fresh_database(service) for service in WEB}
    for service, url in urls.items():
        command.downgrade(alembic_config(service, url), "base")  # a new deployment's empty database
    secrets = {
        "referral_api_database_url": urls["referral_api"],
        "provider_gateway_database_url": urls["provider_gateway"],
        "referral_api_secrets_keys": new_key(),
        "provider_gateway_secrets_keys": new_key(),
        "referral_api_gateway_api_key": "",  # as on a first start: no relay until the keys are made
        "provider_gateway_referral_api_key": "",
    }
    running = Containers(compose_config(), secrets, tmp_path)
    yield running
    running.stop_all()


def test_each_containers_command_runs_as_compose_runs_it(containers):
    migrated = containers.run_once("migrate")
    assert migrated.returncode == 0, migrated.stderr
    assert migrated.stdout.splitlines() == ["referral_api: migrated", "provider_gateway: migrated"]

    for name in WEB:
        containers.start(name)
    containers.start("gateway_worker")
    containers.start("scheduler", REFERRAL_API_BREACH_CHECK_SECONDS="0.5")  # a pass to see soon
    for name in (*WEB, "gateway_worker", "scheduler"):
        assert wait_for(lambda: containers.healthy(name), timeout=180, interval=0.5), f"{name} never healthy:\n{containers.log(name)}"

    # The loops have run, not only started.
    for name in ("gateway_worker", "scheduler"):
        assert wait_for(lambda: read_beat(Path(containers.heartbeat(name))).passes >= 1, timeout=60), name
    # The scheduler's own figures, for the alert that says it has not run.
    scraped = httpx.get(f"http://127.0.0.1:{containers.ports['scheduler_metrics']}/metrics").text
    last_run = re.search(r"^diversion_breach_checks_last_run_timestamp_seconds (\S+)$", scraped, re.M)
    assert last_run and float(last_run.group(1)) > 0, scraped
    assert "delivery worker started" in containers.log("gateway_worker")
    assert "breach scheduler started" in containers.log("scheduler")

    # SIGTERM, as `docker stop` sends: each finishes what it is doing and exits (uvicorn re-raises the signal once done).
    exits = containers.stop_all()
    assert exits == {"referral_api": -signal.SIGTERM, "provider_gateway": -signal.SIGTERM, "gateway_worker": 0, "scheduler": 0}
    for name in WEB:
        assert "Finished server process" in containers.log(name)
    assert "breach scheduler stopped" in containers.log("scheduler")
    assert "delivery worker stopped" in containers.log("gateway_worker")
