from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from diversion_common.credentials import Role
from diversion_common.database import make_engine
from provider_gateway.clients.tables import Client as GatewayClient
from referral_api.clients.tables import Client as ReferralClient
from support.credentials import issue_key
from support.processes import ServiceProcess, free_port


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
