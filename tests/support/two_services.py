"""Both services as real processes on given databases, with the keys they and their callers need.

Used by the end-to-end fixtures and by the benchmark scripts.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from diversion_common.credentials import Role
from diversion_common.database import make_engine
from diversion_common.secrets_at_rest import new_key
from provider_gateway.clients.tables import Client as GatewayClient
from referral_api.clients.tables import Client as ReferralClient
from support.credentials import issue_key
from support.processes import ServiceProcess, free_port


@dataclass
class System:
    referral_api: ServiceProcess
    gateway: ServiceProcess
    keys: dict[str, str]
    env: dict[str, str]

    def headers(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}"}

    def stop(self) -> None:
        self.referral_api.stop()
        self.gateway.stop()


def issue(url: str, table: type, role: Role, force: str | None = None) -> str:
    engine = make_engine(url)
    try:
        return issue_key(engine, table, role, force=force)
    finally:
        engine.dispose()


NO_RATE_LIMITS = {
    f"{prefix}_RATE_LIMIT_{kind}": "1000000/minute"
    for prefix in ("REFERRAL_API", "PROVIDER_GATEWAY")
    for kind in ("PER_CLIENT", "PER_ADDRESS")
}


def build_system(
    referral_db: str, gateway_db: str, logs: Path, extra_env: dict[str, str] | None = None, workers: int = 1
) -> System:
    """Ports, environment and keys for both services (a police key for Thames Valley, an admin key),
    each to run as ``workers`` processes; nothing is started yet."""
    referral_port, gateway_port = free_port(), free_port()
    env = {
        "REFERRAL_API_DATABASE_URL": referral_db,
        "PROVIDER_GATEWAY_DATABASE_URL": gateway_db,
        "REFERRAL_API_GATEWAY_URL": f"http://127.0.0.1:{gateway_port}",
        "PROVIDER_GATEWAY_REFERRAL_API_URL": f"http://127.0.0.1:{referral_port}",
        "REFERRAL_API_PUBLIC_BASE_URL": f"http://127.0.0.1:{referral_port}",
        "PROVIDER_GATEWAY_PUBLIC_BASE_URL": f"http://127.0.0.1:{gateway_port}",
        "REFERRAL_API_GATEWAY_API_KEY": issue(gateway_db, GatewayClient, Role.service),
        "PROVIDER_GATEWAY_REFERRAL_API_KEY": issue(referral_db, ReferralClient, Role.service),
        # The fake providers and police systems listen on 127.0.0.1 (off by default; docs/SECURITY.md, item 1).
        "PROVIDER_GATEWAY_ALLOW_LOOPBACK_WEBHOOKS": "true",
        "REFERRAL_API_ALLOW_LOOPBACK_WEBHOOKS": "true",
        # The tests' own keys when they run under pytest (tests/conftest.py), else new ones (benchmarks).
        **{variable: os.environ.get(variable) or new_key() for variable in ("REFERRAL_API_SECRETS_KEYS", "PROVIDER_GATEWAY_SECRETS_KEYS")},
        # Benchmarks and load tests send thousands of requests a minute from one client and
        # address; the rate limits are tested where they are set low (docs/SECURITY.md, item 7).
        **NO_RATE_LIMITS,
        **(extra_env or {}),
    }
    keys = {
        "police": issue(referral_db, ReferralClient, Role.police, force="thames-valley"),
        "admin": issue(gateway_db, GatewayClient, Role.admin),
        "referral_admin": issue(referral_db, ReferralClient, Role.admin),
    }
    return System(
        referral_api=ServiceProcess("referral_api", referral_port, env, logs / "referral_api.log", workers=workers),
        gateway=ServiceProcess("provider_gateway", gateway_port, env, logs / "provider_gateway.log", workers=workers),
        keys=keys,
        env=env,
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]
