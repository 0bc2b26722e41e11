from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from diversion_common.credentials import Role
from diversion_common.database import make_engine
from referral_api.clients.tables import Client
from referral_api.config import Settings
from referral_api.main import create_app
from support.credentials import bearer, issue_key


@pytest.fixture
def referral_db(fresh_database) -> str:
    return fresh_database("referral_api")


@pytest.fixture
def referral_engine(referral_db: str) -> Iterator[Engine]:
    engine = make_engine(referral_db)
    yield engine
    engine.dispose()


@pytest.fixture
def api(referral_db: str) -> Iterator[TestClient]:
    """referral_api on its own database; its relay is off (no gateway key)."""
    # No delivery worker either: these tests call no outside server (a test that does starts its own).
    # Loopback webhooks allowed: the fake police systems listen on 127.0.0.1 (off by default; docs/SECURITY.md, item 1).
    app = create_app(Settings(database_url=referral_db, gateway_api_key=None, run_delivery_worker=False, allow_loopback_webhooks=True))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def issue(referral_engine: Engine) -> Callable[..., dict[str, str]]:
    def make(role: Role, force: str | None = None, court: str | None = None) -> dict[str, str]:
        if role is Role.court:
            court = court or "reading-magistrates"  # a court client always belongs to one court
        return bearer(issue_key(referral_engine, Client, role, force=force, court=court))

    return make


@pytest.fixture
def police(issue) -> dict[str, str]:
    return issue(Role.police, force="thames-valley")


@pytest.fixture
def other_police(issue) -> dict[str, str]:
    return issue(Role.police, force="hampshire")


@pytest.fixture
def yju(issue) -> dict[str, str]:
    return issue(Role.yju, force="thames-valley")


@pytest.fixture
def admin(issue) -> dict[str, str]:
    return issue(Role.admin)


@pytest.fixture
def gateway_service(issue) -> dict[str, str]:
    return issue(Role.service)
