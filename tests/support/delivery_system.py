"""Both services, delivery workers as processes of their own, and a fake provider.

What the fault tests (tests/provider_gateway/e2e/test_delivery_faults.py) and the soak
(support/soak.py: its short run in `make test`, the long one `make soak`) run on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import httpx

from support.fake_provider import FakeProvider
from support.fast_delivery import FAST_PROVIDER_DELIVERY
from support.processes import WorkerProcess
from support.referrals import adult_referral
from support.two_services import System

# Short timeouts, leases and back-offs for both services' delivery workers (the gateway's run
# as processes of their own), so faults heal in the time a test has.
FAST_DELIVERY = {
    **FAST_PROVIDER_DELIVERY,
    "PROVIDER_GATEWAY_RUN_DELIVERY_WORKER": "false",
    "PROVIDER_GATEWAY_RETRY_MAX_ATTEMPTS": "200",
    "PROVIDER_GATEWAY_CIRCUIT_PAUSE_SECONDS": "0.5",
    "REFERRAL_API_LOG_LEVEL": "WARNING",
}


@dataclass
class DeliverySystem(System):
    """Both services, delivery workers as separate processes, and a fake provider."""

    provider: FakeProvider = None  # type: ignore[assignment]
    workers: list[WorkerProcess] = field(default_factory=list)
    tmp_path: Path = None  # type: ignore[assignment]

    @classmethod
    def around(cls, system: System, logs: Path) -> DeliverySystem:
        """The services of ``system`` (not started), with FAST_DELIVERY and a fake provider listening."""
        system.env.update(FAST_DELIVERY)
        return cls(
            referral_api=system.referral_api, gateway=system.gateway, keys=system.keys, env=system.env,
            provider=FakeProvider().start(), tmp_path=logs,
        )

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

    def close(self) -> None:
        """Stop the workers and the fake provider (the services: System.stop)."""
        for worker in self.workers:
            worker.stop()
        self.provider.stop()


def refer(system: System) -> str:
    """One adult referral, which must be taken (201); its case id."""
    response = httpx.post(f"{system.referral_api.url}/v1/referrals", json=adult_referral(), headers=system.headers("police"), timeout=10)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def delivered_case_ids(system: DeliverySystem) -> set[str]:
    """The cases whose referral reached the fake provider (signed as it should be)."""
    return {r.payload["data"]["case_id"] for r in system.provider.received if r.verified}
