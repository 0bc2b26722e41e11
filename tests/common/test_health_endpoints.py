"""/health/live and /health/ready of each service, over real HTTP, on both databases.

Live answers while the process runs. Ready answers 200 only when the database answers at
the schema of the latest migration and each background loop the process runs is beating;
else a 503 problem naming each check that failed, and nothing about the database's address.
`serve` waits for ready (diversion_cli/runner.py).
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from alembic import command
from fastapi.testclient import TestClient

from diversion_cli import runner
from diversion_common.instance import INSTANCE_HEADER, INSTANCE_VARIABLE
from diversion_common.migrations import alembic_config
from diversion_common.problems import PROBLEM_MEDIA_TYPE
from support.processes import ServiceProcess, cli, free_port

PREFIX = {"referral_api": "REFERRAL_API_", "provider_gateway": "PROVIDER_GATEWAY_"}
PEER_KEY = {"referral_api": "GATEWAY_API_KEY", "provider_gateway": "REFERRAL_API_KEY"}
PEER_URL = {"referral_api": "GATEWAY_URL", "provider_gateway": "REFERRAL_API_URL"}
# The loops each service runs by default (the relay once it has its peer's key).
LOOPS = {"referral_api": {"outbox_relay", "delivery_worker", "breach_scheduler", "retention"}, "provider_gateway": {"outbox_relay", "delivery_worker", "retention"}}


def start(service: str, database_url: str, tmp_path: Path, **settings: str) -> tuple[ServiceProcess, str]:
    """The service as a process of its own, with its internal listener; and that listener's URL."""
    prefix, internal_port = PREFIX[service], free_port()
    env = {
        f"{prefix}DATABASE_URL": database_url,
        f"{prefix}INTERNAL_PORT": str(internal_port),
        INSTANCE_VARIABLE: f"health-test-{service}",
        **{prefix + name.upper(): value for name, value in settings.items()},
    }
    return ServiceProcess(service, free_port(), env, tmp_path / f"{service}.log").start(), f"http://127.0.0.1:{internal_port}"


def assert_not_ready(url: str, failed: str) -> dict[str, str]:
    answer = httpx.get(f"{url}/health/ready", timeout=10)
    assert answer.status_code == 503, answer.text
    assert answer.headers["content-type"] == PROBLEM_MEDIA_TYPE
    body = answer.json()
    assert body["type"].endswith("/not-ready")
    assert body["detail"] == f"not ready: {failed}"
    return body["checks"]


def ready_checks(url: str) -> dict[str, str]:
    answer = httpx.get(f"{url}/health/ready", timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "ready"
    return answer.json()["checks"]


@pytest.mark.parametrize("service", ["referral_api", "provider_gateway"])
def test_ready_only_once_migrated_and_live_throughout(fresh_database, service, tmp_path):
    url = fresh_database(service)
    command.downgrade(alembic_config(service, url), "base")  # a database no migration has run on
    # The relay runs (it has a key) though its peer is not there: that is not this service's fault.
    process, internal = start(service, url, tmp_path, **{PEER_KEY[service]: "dl_x_y", PEER_URL[service]: f"http://127.0.0.1:{free_port()}"})
    try:
        for base in (process.url, internal):
            live = httpx.get(f"{base}/health/live")
            assert live.status_code == 200 and live.json() == {"status": "ok", "service": service}
            checks = assert_not_ready(base, "schema")
            assert checks["database"] == "ok"
            assert checks["schema"].startswith("not migrated")
        # serve waits for ready, not for an answer.
        assert not runner.wait_until_healthy(process.url, process.process, f"health-test-{service}", timeout=2)

        migrated = cli({f"{PREFIX[service]}DATABASE_URL": url}, "migrate", "--service", service)
        assert migrated.returncode == 0, migrated.stderr

        for base in (process.url, internal):
            assert ready_checks(base) == dict.fromkeys({"database", "schema", *LOOPS[service]}, "ok")
            assert httpx.get(f"{base}/health").status_code == 200  # the older path still answers
        assert runner.wait_until_healthy(process.url, process.process, f"health-test-{service}", timeout=30)
    finally:
        process.stop()


@pytest.mark.parametrize("service", ["referral_api", "provider_gateway"])
def test_a_schema_behind_the_code_is_not_ready_and_loops_turned_off_are_not_required(fresh_database, service, tmp_path):
    url = fresh_database(service)
    command.downgrade(alembic_config(service, url), "-1")
    off = {"run_delivery_worker": "false", "run_retention_scheduler": "false", **({"run_breach_scheduler": "false"} if service == "referral_api" else {})}
    process, _ = start(service, url, tmp_path, **off)
    try:
        assert "behind this code" in assert_not_ready(process.url, "schema")["schema"]
        assert cli({f"{PREFIX[service]}DATABASE_URL": url}, "migrate", "--service", service).returncode == 0
        assert ready_checks(process.url) == {"database": "ok", "schema": "ok"}
    finally:
        process.stop()


@pytest.mark.database_independent
def test_an_unreachable_database_is_named_without_its_address_or_credentials(tmp_path):
    url = f"postgresql://health-user:health-password@127.0.0.1:{free_port()}/health-db"
    process, _ = start("provider_gateway", url, tmp_path, run_delivery_worker="false")
    try:
        answer = httpx.get(f"{process.url}/health/ready", timeout=20)
        assert answer.status_code == 503
        assert answer.headers[INSTANCE_HEADER] == "health-test-provider_gateway"
        assert answer.json()["checks"]["database"].startswith("unreachable")
        for told in ("health-user", "health-password", "health-db", "127.0.0.1"):
            assert told not in answer.text
        assert httpx.get(f"{process.url}/health/live").status_code == 200
    finally:
        process.stop()


@pytest.mark.database_independent
def test_a_loop_that_stops_beating_makes_the_service_not_ready(fresh_database):
    from referral_api.config import Settings
    from referral_api.main import create_app

    settings = Settings(database_url=fresh_database("referral_api"), gateway_api_key=None, run_delivery_worker=False)
    with TestClient(create_app(settings)) as client:
        assert client.get("/health/ready").json()["checks"]["breach_scheduler"] == "ok"
        (scheduler,) = [loop for loop in client.app.state.heartbeats if loop.loop == "breach_scheduler"]
        scheduler.clock = lambda: time.time() + scheduler.allowed_silence + 60  # no pass since, as far as it knows
        answer = client.get("/health/ready")
        assert answer.status_code == 503
        assert answer.json()["detail"] == "not ready: breach_scheduler"
        assert answer.json()["checks"]["breach_scheduler"].startswith("no pass for")
