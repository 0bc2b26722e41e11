from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from diversion_common.credentials import Role
from diversion_common.database import make_engine
from provider_gateway.clients.tables import Client
from provider_gateway.config import Settings
from provider_gateway.main import create_app
from support.credentials import bearer, issue_key


@pytest.fixture
def gateway_db(fresh_database) -> str:
    return fresh_database("provider_gateway")


@pytest.fixture
def gateway_engine(gateway_db: str) -> Iterator[Engine]:
    engine = make_engine(gateway_db)
    yield engine
    engine.dispose()


@pytest.fixture
def gateway(gateway_db: str) -> Iterator[TestClient]:
    """provider_gateway on its own database; its relay is off (no referral_api key)."""
    # No relay (no referral_api key) and no delivery worker: these tests call no outside server.
    # Loopback webhooks allowed: the fake providers listen on 127.0.0.1 (off by default; docs/SECURITY.md, item 1).
    app = create_app(Settings(database_url=gateway_db, referral_api_key=None, run_delivery_worker=False, allow_loopback_webhooks=True))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def issue_gateway_key(gateway_engine: Engine) -> Callable[..., dict[str, str]]:
    def make(role: Role, **kwargs) -> dict[str, str]:
        return bearer(issue_key(gateway_engine, Client, role, **kwargs))

    return make


@pytest.fixture
def admin(issue_gateway_key) -> dict[str, str]:
    return issue_gateway_key(Role.admin)


@pytest.fixture
def referral_service(issue_gateway_key) -> dict[str, str]:
    return issue_gateway_key(Role.service)
