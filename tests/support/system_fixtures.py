"""Fixtures for end-to-end tests: both services as real processes, workers, a fake provider."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

import pytest

from diversion_common.credentials import Role
from diversion_common.database import make_engine
from provider_gateway.clients.tables import Client as GatewayClient
from referral_api.clients.tables import Client as ReferralClient
from support.credentials import issue_key
from support.fake_provider import FakeProvider
from support.processes import ServiceProcess, WorkerProcess, free_port


@dataclass
class System:
    """Both services as real processes, with credentials made by the real CLI."""

    referral_api: ServiceProcess
    gateway: ServiceProcess
    keys: dict[str, str]
    env: dict[str, str]

    def headers(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}"}


def issue(url: str, table: type, role: Role, force: str | None = None) -> str:
    engine = make_engine(url)
    try:
        return issue_key(engine, table, role, force=force)
    finally:
        engine.dispose()


@pytest.fixture
def system(fresh_database, tmp_path) -> Iterator[System]:
    referral_port, gateway_port = free_port(), free_port()
    env = {
        "REFERRAL_API_DATABASE_URL": fresh_database("referral_api"),
        "PROVIDER_GATEWAY_DATABASE_URL": fresh_database("provider_gateway"),
        "REFERRAL_API_GATEWAY_URL": f"http://127.0.0.1:{gateway_port}",
        "PROVIDER_GATEWAY_REFERRAL_API_URL": f"http://127.0.0.1:{referral_port}",
        "REFERRAL_API_RELAY_POLL_SECONDS": "0.2",
        "PROVIDER_GATEWAY_RELAY_POLL_SECONDS": "0.2",
    }
    referral_db, gateway_db = env["REFERRAL_API_DATABASE_URL"], env["PROVIDER_GATEWAY_DATABASE_URL"]
    keys = {
        "police": issue(referral_db, ReferralClient, Role.police, force="thames-valley"),
        "admin": issue(gateway_db, GatewayClient, Role.admin),
    }
    env["REFERRAL_API_GATEWAY_API_KEY"] = issue(gateway_db, GatewayClient, Role.service)
    env["PROVIDER_GATEWAY_REFERRAL_API_KEY"] = issue(referral_db, ReferralClient, Role.service)
    services = System(
        referral_api=ServiceProcess("referral_api", referral_port, env, tmp_path / "referral_api.log"),
        gateway=ServiceProcess("provider_gateway", gateway_port, env, tmp_path / "provider_gateway.log"),
        keys=keys,
        env=env,
    )
    yield services
    services.referral_api.stop()
    services.gateway.stop()


FAST_DELIVERY = {
    "PROVIDER_GATEWAY_RUN_DELIVERY_WORKER": "false",
    "PROVIDER_GATEWAY_DELIVERY_TIMEOUT_SECONDS": "2",
    "PROVIDER_GATEWAY_DELIVERY_LEASE_SECONDS": "3",
    "PROVIDER_GATEWAY_DELIVERY_POLL_SECONDS": "0.05",
    "PROVIDER_GATEWAY_RETRY_BASE_SECONDS": "0.05",
    "PROVIDER_GATEWAY_RETRY_CAP_SECONDS": "0.5",
    "PROVIDER_GATEWAY_RETRY_MAX_ATTEMPTS": "200",
    "PROVIDER_GATEWAY_CIRCUIT_PAUSE_SECONDS": "0.5",
    "PROVIDER_GATEWAY_LOG_LEVEL": "WARNING",
    "REFERRAL_API_LOG_LEVEL": "WARNING",
}


@dataclass
class DeliverySystem(System):
    """Both services, delivery workers as separate processes, and a fake provider."""

    provider: FakeProvider = None  # type: ignore[assignment]
    workers: list[WorkerProcess] = field(default_factory=list)
    tmp_path: Path = None  # type: ignore[assignment]

    def start_worker(self) -> WorkerProcess:
        worker = WorkerProcess(self.env, self.tmp_path / f"worker-{len(self.workers)}.log").start()
        self.workers.append(worker)
        return worker

    def register_provider(self) -> dict:
        body = {
            "name": "Fault Test Drug Service",
            "pathways": ["adult_deferred_summons", "youth_community_resolution"],
            "districts": ["reading", "oxford", "slough"],
            "delivery_mode": "webhook",
            "webhook_url": self.provider.url,
            "contact_email": "intake@provider.example",
        }
        response = httpx.post(f"{self.gateway.url}/v1/admin/providers", json=body, headers=self.headers("admin"))
        assert response.status_code == 201, response.text
        self.provider.secrets = [response.json()["signing_secret"]]
        return response.json()


@pytest.fixture
def delivery_system(system: System, tmp_path) -> Iterator[DeliverySystem]:
    system.env.update(FAST_DELIVERY)
    provider = FakeProvider().start()
    services = DeliverySystem(
        referral_api=system.referral_api, gateway=system.gateway, keys=system.keys, env=system.env,
        provider=provider, tmp_path=tmp_path,
    )
    yield services
    for worker in services.workers:
        worker.stop()
    provider.stop()
