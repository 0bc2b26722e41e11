"""Fixtures for end-to-end tests: both services as real processes, workers, a fake provider."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from support.fake_provider import FakeProvider
from support.processes import WorkerProcess
from support.two_services import System, build_system


@pytest.fixture
def system(fresh_database, tmp_path) -> Iterator[System]:
    services = build_system(
        fresh_database("referral_api"),
        fresh_database("provider_gateway"),
        tmp_path,
        {"REFERRAL_API_RELAY_POLL_SECONDS": "0.2", "PROVIDER_GATEWAY_RELAY_POLL_SECONDS": "0.2"},
    )
    yield services
    services.stop()


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
